import CSluiceShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A task executor whose one thread lives in a network namespace. Async code run with
/// `withTaskExecutorPreference(executor) { … }` (and its child tasks) opens its sockets in the
/// namespace: SwiftNIO creates a listener's or a client's socket on the calling thread, so a
/// server under test can listen on fixed ports, wildcard addresses or a node's addresses
/// without touching the machine's own namespace.
@available(macOS 15.0, *)
public final class NamespaceExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var failure: (any Error)?

    /// Starts the thread and moves it into `namespace`; throws when it cannot enter.
    public init(_ namespace: NetworkNamespace) throws {
        let fd = open("/var/run/netns/\(namespace.name)", O_RDONLY)
        guard fd >= 0 else { throw NamespaceError(message: "open netns \(namespace.name): errno \(errno)") }
        let entered = DispatchSemaphore(value: 0)
        let name = namespace.name
        let thread = Thread { [self] in
            if sluice_setns_net(fd) != 0 {
                failure = NamespaceError(message: "setns \(name): errno \(errno)")
                entered.signal()
                return
            }
            entered.signal()
            runJobs()
        }
        thread.start()
        entered.wait()
        close(fd)
        if let failure { throw failure }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once the jobs queued so far have run.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
