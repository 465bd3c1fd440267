internal import CPipeBusProto
internal import CProtobufC

// The one place where the health messages meet their protobuf-c structs.

/// Services one ListServices response may name; more is RESOURCE_EXHAUSTED before unpacking.
let maxListedServices = 4096

extension Health.CheckRequest: MessageCodable {
    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Health__V1__HealthCheckRequest()
        pipebus__health__v1__health_check_request__init(&c)
        if !service.isEmpty { c.service = arena.cString(service) }
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "HealthCheckRequest")
        self = try ProtobufC.unpack(
            body,
            name: "HealthCheckRequest",
            unpack: { pipebus__health__v1__health_check_request__unpack(nil, $0, $1) },
            free: { pipebus__health__v1__health_check_request__free_unpacked($0, nil) }
        ) { c in Health.CheckRequest(service: ProtobufC.string(c.service)) }
    }
}

extension Health.CheckResponse: MessageCodable {
    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Health__V1__HealthCheckResponse()
        pipebus__health__v1__health_check_response__init(&c)
        c.status = Pipebus__Health__V1__HealthCheckResponse__ServingStatus(rawValue: status.rawValue)
        if !message.isEmpty { c.message = arena.cString(message) }
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "HealthCheckResponse")
        self = try ProtobufC.unpack(
            body,
            name: "HealthCheckResponse",
            unpack: { pipebus__health__v1__health_check_response__unpack(nil, $0, $1) },
            free: { pipebus__health__v1__health_check_response__free_unpacked($0, nil) }
        ) { c in
            Health.CheckResponse(
                status: Health.ServingStatus(rawValue: c.status.rawValue) ?? .unknown,
                message: ProtobufC.string(c.message)
            )
        }
    }
}

extension Health.ListServicesRequest: MessageCodable {
    public func serialize(into buffer: inout [UInt8]) {}

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "ListServicesRequest")
        self.init()
    }
}

extension Health.ListServicesResponse: MessageCodable {
    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Health__V1__ListServicesResponse()
        pipebus__health__v1__list_services_response__init(&c)
        let names = arena.allocate(UnsafeMutablePointer<CChar>?.self, count: services.count)
        for (index, service) in services.enumerated() { (names + index).initialize(to: arena.cString(service)) }
        c.n_services = services.count
        c.services = names
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, repeatedFields: [1], limit: maxListedServices, messageName: "ListServicesResponse")
        self = try ProtobufC.unpack(
            body,
            name: "ListServicesResponse",
            unpack: { pipebus__health__v1__list_services_response__unpack(nil, $0, $1) },
            free: { pipebus__health__v1__list_services_response__free_unpacked($0, nil) }
        ) { c in
            Health.ListServicesResponse(services: (0..<c.n_services).map { ProtobufC.string(c.services[$0]) })
        }
    }
}
