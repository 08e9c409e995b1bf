/// A change seen by a store subscriber.
public enum StoreEvent<Object: Sendable>: Sendable {
    case added(Object)
    case updated(old: Object, new: Object)
    case deleted(Object)
    /// The first full list is in the store: what came before it is the initial state.
    case synced
}
