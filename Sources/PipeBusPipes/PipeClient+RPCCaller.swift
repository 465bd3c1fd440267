public import PipeBusCore

/// Generated clients call through a `PipeClient` as through a connection: each call on the
/// current connection, reconnecting first when it broke.
extension PipeClient: ConnectionProvidingCaller, ClosableRPCCaller {}
