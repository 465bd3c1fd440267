internal import CPipeBusProto
internal import CProtobufC

// Where `Hello` and `ConnectRecord` meet their protobuf-c structs. The envelope itself, the
// hot path's message, is coded by hand in Envelope+Wire.swift.

/// Metadata entries one envelope may carry; more is RESOURCE_EXHAUSTED.
let maxMetadataEntries = 128
private let envelopeMetadataField: UInt32 = 5
private let envelopeHelloField: UInt32 = 11
private let connectRecordHelloField: UInt32 = 2

extension Envelope {
    public init(serializedBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Envelope(serializedBytes: $0) }
    }
}

extension Envelope {
    /// The envelope packed by protobuf-c: the reference the hand-written codec is tested
    /// against (EnvelopeWireTests), not used on any path.
    func serializeWithProtobufC(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__V1__Envelope()
        pipebus__v1__envelope__init(&c)
        c.stream_id = streamID
        c.kind = Pipebus__V1__Kind(rawValue: kind.rawValue)
        c.flags = (message != nil ? UInt32(PIPEBUS__V1__FLAG__FLAG_HAS_MESSAGE.rawValue) : 0)
            | (endStream ? UInt32(PIPEBUS__V1__FLAG__FLAG_END_STREAM.rawValue) : 0)
        c.timeout_micros = timeoutMicros
        c.status_code = status.code.rawValue
        c.ping_data = pingData
        if !status.message.isEmpty { c.status_message = arena.cString(status.message) }
        if !metadata.isEmpty { Self.fill(&c.n_metadata, &c.metadata, from: metadata, arena: &arena) }
        var cHello = Pipebus__V1__Hello()
        if let hello { hello.fill(&cHello, arena: &arena) }
        // Every borrowed pointer (the handshake, the method, the message) is used only inside
        // the closure that lends it.
        withUnsafeMutablePointer(to: &cHello) { helloPointer in
            if hello != nil { c.hello = helloPointer }
            method.withCString { methodPointer in
                if !method.isEmpty { c.method = UnsafeMutablePointer(mutating: methodPointer) }
                if let message, !message.isEmpty {
                    message.withUnsafeBufferPointer { payload in
                        c.message = ProtobufCBinaryData(len: payload.count, data: UnsafeMutablePointer(mutating: payload.baseAddress!))
                        ProtobufC.pack(&c, appendingTo: &buffer)
                    }
                } else {
                    ProtobufC.pack(&c, appendingTo: &buffer)
                }
            }
        }
    }

    /// The envelope unpacked by protobuf-c (after the scan for the metadata bound and of the
    /// nested messages): the reference for the hand-written decoder, not used on any path.
    init(protobufCBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(
            body,
            repeatedFields: [envelopeMetadataField],
            limit: maxMetadataEntries,
            messageName: "envelope",
            nestedFields: [envelopeMetadataField, envelopeHelloField]
        )
        self = try ProtobufC.unpack(
            body,
            name: "envelope",
            unpack: { pipebus__v1__envelope__unpack(nil, $0, $1) },
            free: { pipebus__v1__envelope__free_unpacked($0, nil) }
        ) { c in
            let flags = c.flags
            var metadata = Metadata()
            for index in 0..<c.n_metadata {
                guard let entry = c.metadata[index]?.pointee else { continue }
                metadata.add(ProtobufC.string(entry.key), bytes: ProtobufC.bytes(entry.value))
            }
            return Envelope(
                streamID: c.stream_id,
                kind: Kind(rawValue: c.kind.rawValue),
                endStream: flags & UInt32(PIPEBUS__V1__FLAG__FLAG_END_STREAM.rawValue) != 0,
                method: ProtobufC.string(c.method),
                metadata: metadata,
                timeoutMicros: c.timeout_micros,
                message: flags & UInt32(PIPEBUS__V1__FLAG__FLAG_HAS_MESSAGE.rawValue) != 0 ? ProtobufC.bytes(c.message) : nil,
                status: Status(code: StatusCode(rawValue: c.status_code), message: ProtobufC.string(c.status_message)),
                pingData: c.ping_data,
                hello: c.hello.map { Hello($0.pointee) }
            )
        }
    }

    private static func fill(
        _ count: inout Int,
        _ entries: inout UnsafeMutablePointer<UnsafeMutablePointer<Pipebus__V1__MetadataEntry>?>?,
        from metadata: Metadata,
        arena: inout CArena
    ) {
        let structs = arena.allocate(Pipebus__V1__MetadataEntry.self, count: metadata.count)
        let pointers = arena.allocate(UnsafeMutablePointer<Pipebus__V1__MetadataEntry>?.self, count: metadata.count)
        for (index, entry) in metadata.entries.enumerated() {
            var c = Pipebus__V1__MetadataEntry()
            pipebus__v1__metadata_entry__init(&c)
            c.key = arena.cString(entry.key)
            c.value = arena.bytes(entry.value)
            (structs + index).initialize(to: c)
            (pointers + index).initialize(to: structs + index)
        }
        count = metadata.count
        entries = pointers
    }
}

extension Hello {
    init(_ c: Pipebus__V1__Hello) {
        self.init(
            protocolVersion: c.protocol_version,
            maxFrameSize: c.max_frame_size,
            compression: c.compression != 0,
            peerName: ProtobufC.string(c.peer_name),
            pid: c.pid
        )
    }

    func fill(_ c: inout Pipebus__V1__Hello, arena: inout CArena) {
        pipebus__v1__hello__init(&c)
        c.protocol_version = protocolVersion
        c.max_frame_size = maxFrameSize
        c.compression = compression ? 1 : 0
        c.pid = pid
        if !peerName.isEmpty { c.peer_name = arena.cString(peerName) }
    }
}

extension ConnectRecord: MessageCodable {
    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var cHello = Pipebus__V1__Hello()
        hello.fill(&cHello, arena: &arena)
        var c = Pipebus__V1__ConnectRecord()
        pipebus__v1__connect_record__init(&c)
        c.connection_id = arena.cString(connectionID)
        withUnsafeMutablePointer(to: &cHello) { helloPointer in
            c.hello = helloPointer
            ProtobufC.pack(&c, appendingTo: &buffer)
        }
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "connect record", nestedFields: [connectRecordHelloField])
        self = try ProtobufC.unpack(
            body,
            name: "connect record",
            unpack: { pipebus__v1__connect_record__unpack(nil, $0, $1) },
            free: { pipebus__v1__connect_record__free_unpacked($0, nil) }
        ) { c in
            guard let hello = c.hello else {
                throw RPCError(code: .invalidArgument, message: "connect record without a handshake")
            }
            return ConnectRecord(connectionID: ProtobufC.string(c.connection_id), hello: Hello(hello.pointee))
        }
    }
}

