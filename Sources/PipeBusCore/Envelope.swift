/// The body of every frame: what one side says to the other about one stream (or, on stream 0,
/// about the connection). See docs/PROTOCOL.md; the protobuf definition is proto/pipebus/v1.
public struct Envelope: Hashable, Sendable {
    /// What an envelope does. A struct so that an unknown kind from a newer peer can be reported.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let hello = Kind(rawValue: 1)
        public static let helloAck = Kind(rawValue: 2)
        public static let ping = Kind(rawValue: 3)
        public static let pong = Kind(rawValue: 4)
        public static let goAway = Kind(rawValue: 5)
        public static let open = Kind(rawValue: 6)
        public static let message = Kind(rawValue: 7)
        public static let close = Kind(rawValue: 8)
        public static let cancel = Kind(rawValue: 9)

        public var description: String {
            let names = ["UNSPECIFIED", "HELLO", "HELLO_ACK", "PING", "PONG", "GOAWAY", "OPEN", "MESSAGE", "CLOSE", "CANCEL"]
            return rawValue < names.count ? names[Int(rawValue)] : "KIND_\(rawValue)"
        }
    }

    public var streamID: UInt32
    public var kind: Kind
    /// The sender sends nothing more on this stream.
    public var endStream: Bool
    /// OPEN: the method, e.g. `/pipebus.health.v1.Health/Check`.
    public var method: String
    /// OPEN: request metadata. CLOSE: trailers.
    public var metadata: Metadata
    /// OPEN: how long the call may take, in microseconds from receipt; 0 means no deadline.
    public var timeoutMicros: UInt64
    /// The message this envelope carries, if any (it may be empty but present).
    public var message: [UInt8]?
    /// CLOSE and CANCEL: the call's outcome. GOAWAY: the reason, in `status.message`.
    public var status: Status
    /// PING and PONG: echoed back unchanged.
    public var pingData: UInt64
    /// HELLO and HELLO_ACK: the handshake.
    public var hello: Hello?

    public init(
        streamID: UInt32,
        kind: Kind,
        endStream: Bool = false,
        method: String = "",
        metadata: Metadata = Metadata(),
        timeoutMicros: UInt64 = 0,
        message: [UInt8]? = nil,
        status: Status = .ok,
        pingData: UInt64 = 0,
        hello: Hello? = nil
    ) {
        self.streamID = streamID
        self.kind = kind
        self.endStream = endStream
        self.method = method
        self.metadata = metadata
        self.timeoutMicros = timeoutMicros
        self.message = message
        self.status = status
        self.pingData = pingData
        self.hello = hello
    }
}

/// The handshake each side states once per connection.
public struct Hello: Hashable, Sendable {
    /// The protocol version this build speaks.
    public static let currentProtocolVersion: UInt32 = 1

    public var protocolVersion: UInt32
    /// The largest frame body the sender accepts.
    public var maxFrameSize: UInt32
    /// The sender can decode LZ4-compressed frames.
    public var compression: Bool
    /// For logs: who the peer says it is.
    public var peerName: String
    public var pid: UInt32

    public init(
        protocolVersion: UInt32 = Hello.currentProtocolVersion,
        maxFrameSize: UInt32 = UInt32(FrameHeader.defaultMaxFrameSize),
        compression: Bool = true,
        peerName: String = "",
        pid: UInt32 = 0
    ) {
        self.protocolVersion = protocolVersion
        self.maxFrameSize = maxFrameSize
        self.compression = compression
        self.peerName = peerName
        self.pid = pid
    }

    /// What a server answers this handshake with in a GOAWAY when it speaks another protocol
    /// version (PROTOCOL.md §2): FAILED_PRECONDITION naming both versions; nil if it speaks
    /// this one. Checked on the connect record's `hello` and on the HELLO alike.
    public var versionRefusal: Status? {
        guard protocolVersion != Hello.currentProtocolVersion else { return nil }
        return Status(
            code: .failedPrecondition,
            message: "protocol version \(protocolVersion) is not supported; this server speaks version \(Hello.currentProtocolVersion)"
        )
    }
}

/// The record a client writes to a sidecar's connect FIFO.
public struct ConnectRecord: Hashable, Sendable {
    /// Names the connection's FIFO pair inside the server's directory: `[A-Za-z0-9_-]{1,64}`.
    public var connectionID: String
    public var hello: Hello

    public init(connectionID: String, hello: Hello) {
        self.connectionID = connectionID
        self.hello = hello
    }

    /// The largest connect record: one atomic pipe write (PIPE_BUF), frame header included.
    public static let maxEncodedSize = 4096

    /// Whether `id` may name a connection (`NameRule.component`): 1 to 64 of `A-Z a-z 0-9 _ -`,
    /// so it can never be a path, a hidden file or a traversal.
    public static func isValidConnectionID(_ id: String) -> Bool {
        NameRule.component.accepts(id)
    }
}
