import KubeModels
import Synchronization

/// Changes the sources saw, in arrival order, for the sync loop to record.
public enum AgentInput: Sendable {
    case services([StoreEvent<Service>])
    case slices([StoreEvent<EndpointSlice>])
    case nodes([StoreEvent<Node>])
}

/// Where sources leave changes for the sync loop, and the loop's doorbell. Sources run in
/// their own tasks; the loop owns the pipeline (which is not shareable) and drains the inbox
/// when woken. Waking is coalesced: many posts between two drains cost one wake-up.
public final class AgentInbox: Sendable {
    private let pending = Mutex<[AgentInput]>([])
    private let continuation: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    public init() {
        (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func post(_ input: AgentInput) {
        pending.withLock { $0.append(input) }
        continuation.yield()
    }

    /// Wakes the loop without input (a timer fired).
    func ring() { continuation.yield() }

    func finish() { continuation.finish() }

    func take() -> [AgentInput] {
        pending.withLock { p in
            defer { p.removeAll(keepingCapacity: true) }
            return p
        }
    }
}

/// Rings the inbox at a deadline; setting a new deadline replaces the old one.
final class Alarm: Sendable {
    private let timer = Mutex<(deadline: ContinuousClock.Instant, task: Task<Void, Never>)?>(nil)
    private let inbox: AgentInbox

    init(_ inbox: AgentInbox) { self.inbox = inbox }

    func set(_ deadline: ContinuousClock.Instant?) {
        timer.withLock { t in
            if let t, t.deadline == deadline { return }
            t?.task.cancel()
            guard let deadline else {
                t = nil
                return
            }
            let inbox = self.inbox
            t = (deadline, Task {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    inbox.ring()
                } catch {}
            })
        }
    }

    func cancel() { set(nil) }
}
