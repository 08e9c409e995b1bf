import CSluiceShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public struct CommandError: Error, CustomStringConvertible {
    public var command: [String]
    public var result: CommandResult
    public var description: String {
        "\(command.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)"
    }
}

/// Runs a command and collects its output. Standard input is the given text (or empty).
@discardableResult
public func run(_ args: [String], input: String? = nil, check: Bool = true) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
    try inp.fileHandleForWriting.close()
    // Read both pipes to the end before waiting, so a chatty command cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let done = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    Thread {
        errData = errHandle.readDataToEndOfFile()
        done.signal()
    }.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    p.waitUntilExit()
    let r = CommandResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    if check && r.status != 0 { throw CommandError(command: args, result: r) }
    return r
}

/// A private network namespace for a test: created on init, deleted by `delete()` (call it in
/// a `defer`). Names are unique per process and call.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String
    private static let counter = Counter()

    public init(_ prefix: String = "sluice-t") throws {
        name = "\(prefix)-\(getpid())-\(Self.counter.next())"
        try run(["ip", "netns", "add", name])
        try exec(["ip", "link", "set", "lo", "up"])
    }

    public func delete() {
        _ = try? run(["ip", "netns", "delete", name], check: false)
    }

    /// Runs a command inside the namespace.
    @discardableResult
    public func exec(_ args: [String], input: String? = nil, check: Bool = true) throws -> CommandResult {
        try run(["ip", "netns", "exec", name] + args, input: input, check: check)
    }

    /// Runs `body` on a fresh thread that has entered this namespace, and returns its result.
    /// Sockets opened there stay bound to the namespace after the thread ends.
    public func enter<T>(_ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in try enterEscaping(body) }
    }

    private func enterEscaping<T>(_ body: @escaping () throws -> T) throws -> T {
        let fd = open("/var/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { throw NamespaceError(message: "open netns \(name): errno \(errno)") }
        defer { close(fd) }
        // The thread must drop the closure before `enter` returns (withoutActuallyEscaping
        // checks), so it reaches the closure through a box it empties when done.
        let box = Box(body)
        let done = DispatchSemaphore(value: 0)
        let name = self.name
        let thread = Thread {
            if sluice_setns_net(fd) != 0 {
                box.result = .failure(NamespaceError(message: "setns \(name): errno \(errno)"))
            } else if let body = box.body {
                box.result = Result { try body() }
            }
            box.body = nil
            done.signal()
        }
        thread.start()
        done.wait()
        let result = box.result
        guard let result else { throw NamespaceError(message: "thread did not run") }
        return try result.get()
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

private final class Box<T>: @unchecked Sendable {
    var body: (() throws -> T)?
    var result: Result<T, any Error>?
    init(_ body: @escaping () throws -> T) { self.body = body }
}
