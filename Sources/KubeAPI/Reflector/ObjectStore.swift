import KubeModels
import Synchronization

/// The current objects of one resource, fed by a Reflector, with change subscriptions.
///
/// Subscribers receive batches of changes. Changes a subscriber has not yet taken are
/// coalesced per object as {previous, current} — as kube-proxy's change trackers do — so a
/// slow consumer costs at most one pending entry per object, never one per event.
public final class ObjectStore<Object: KubeResource>: Sendable {
    private struct Pending {
        var previous: Object?
        var current: Object?
    }

    private struct Subscriber {
        var pending: [ObjectKey: Pending] = [:]
        var order: [ObjectKey] = []
        var syncPending = false
        var wake: AsyncStream<Void>.Continuation

        mutating func record(_ key: ObjectKey, previous: Object?, current: Object?) {
            if pending[key] != nil {
                pending[key]?.current = current
            } else {
                pending[key] = Pending(previous: previous, current: current)
                order.append(key)
            }
        }

        mutating func take() -> [StoreEvent<Object>] {
            var events: [StoreEvent<Object>] = []
            events.reserveCapacity(order.count + 1)
            for key in order {
                guard let p = pending[key] else { continue }
                switch (p.previous, p.current) {
                case (nil, let new?): events.append(.added(new))
                case (let old?, nil): events.append(.deleted(old))
                case (let old?, let new?) where old != new: events.append(.updated(old: old, new: new))
                default: break
                }
            }
            pending.removeAll(keepingCapacity: false)
            order.removeAll(keepingCapacity: false)
            if syncPending {
                events.append(.synced)
                syncPending = false
            }
            return events
        }
    }

    private struct State {
        var objects: [ObjectKey: Object] = [:]
        var synced = false
        var resourceVersion: String?
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    // MARK: reading

    /// A snapshot of every object (copy-on-write: cheap until the store changes).
    public var objects: [ObjectKey: Object] { state.withLock { $0.objects } }
    public subscript(key: ObjectKey) -> Object? { state.withLock { $0.objects[key] } }
    public var count: Int { state.withLock { $0.objects.count } }
    public var hasSynced: Bool { state.withLock { $0.synced } }
    /// The resourceVersion the store reflects (the last list's, or the last event's).
    public var resourceVersion: String? { state.withLock { $0.resourceVersion } }

    /// A subscription: its first batch holds every current object as `added` (then
    /// `synced` if the store has synced), later batches hold the coalesced changes.
    public func changes() -> Changes {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { s in
            var sub = Subscriber(wake: continuation)
            for (key, object) in s.objects.sorted(by: { $0.key < $1.key }) {
                sub.record(key, previous: nil, current: object)
            }
            sub.syncPending = s.synced
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = sub
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        continuation.yield()
        return Changes(store: self, id: id, wake: stream)
    }

    public struct Changes: AsyncSequence, Sendable {
        public typealias Element = [StoreEvent<Object>]
        let store: ObjectStore
        let id: Int
        let wake: AsyncStream<Void>

        public struct AsyncIterator: AsyncIteratorProtocol {
            let store: ObjectStore
            let id: Int
            var wake: AsyncStream<Void>.AsyncIterator

            /// Waits for at least one change and returns everything pending; nil when the
            /// store finished or the task was cancelled.
            public mutating func next() async -> [StoreEvent<Object>]? {
                while true {
                    let batch = store.take(id)
                    if let batch, !batch.isEmpty { return batch }
                    if batch == nil { return nil }
                    guard await wake.next() != nil else { return nil }
                }
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(store: store, id: id, wake: wake.makeAsyncIterator())
        }
    }

    private func take(_ id: Int) -> [StoreEvent<Object>]? {
        state.withLock { s in s.subscribers[id]?.take() }
    }

    /// Ends every subscription.
    public func finish() {
        let subs = state.withLock { s in
            let subs = s.subscribers.values.map(\.wake)
            s.subscribers.removeAll()
            return subs
        }
        for c in subs { c.finish() }
    }

    // MARK: writing (the Reflector)

    private func notify(_ s: inout State, _ key: ObjectKey, previous: Object?, current: Object?) {
        for id in s.subscribers.keys {
            s.subscribers[id]?.record(key, previous: previous, current: current)
        }
    }

    private func wakeAll(_ s: State) {
        for sub in s.subscribers.values { sub.wake.yield() }
    }

    /// Adds or replaces one object.
    public func upsert(_ object: Object) {
        state.withLock { s in
            let key = object.key
            let previous = s.objects.updateValue(object, forKey: key)
            if previous != object { notify(&s, key, previous: previous, current: object) }
            if let rv = object.metadata.resourceVersion { s.resourceVersion = rv }
            wakeAll(s)
        }
    }

    /// Removes one object (a no-op when absent).
    public func remove(_ key: ObjectKey, resourceVersion: String?) {
        state.withLock { s in
            if let previous = s.objects.removeValue(forKey: key) {
                notify(&s, key, previous: previous, current: nil)
            }
            if let resourceVersion { s.resourceVersion = resourceVersion }
            wakeAll(s)
        }
    }

    /// Records a bookmark's resourceVersion.
    public func advance(to resourceVersion: String) {
        state.withLock { $0.resourceVersion = resourceVersion }
    }

    /// Replaces the whole content with a fresh list: objects that vanished become
    /// deletions, changed ones updates. The first replace marks the store synced.
    public func replace(with items: [Object], resourceVersion: String?) {
        var next: [ObjectKey: Object] = [:]
        next.reserveCapacity(items.count)
        for item in items { next[item.key] = item }
        replace(with: next, resourceVersion: resourceVersion)
    }

    /// `replace(with:resourceVersion:)` for objects already keyed.
    public func replace(with next: [ObjectKey: Object], resourceVersion: String?) {
        state.withLock { s in
            for (key, old) in s.objects where next[key] == nil {
                notify(&s, key, previous: old, current: nil)
            }
            for (key, new) in next {
                let old = s.objects[key]
                if old != new { notify(&s, key, previous: old, current: new) }
            }
            s.objects = next
            s.resourceVersion = resourceVersion
            if !s.synced {
                s.synced = true
                for id in s.subscribers.keys { s.subscribers[id]?.syncPending = true }
            }
            wakeAll(s)
        }
    }
}
