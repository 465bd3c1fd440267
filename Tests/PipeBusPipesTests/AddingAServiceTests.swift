import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Synchronization
import Testing

/// docs/ADDING-A-SERVICE.md, done: Tests/Protos/pipebus/example/v1/inventory.proto plus the
/// handler bodies below is the whole service. It is served by a `PipeServer` and called through
/// the generated client over real FIFOs, every handler kind, every field kind.
@Suite struct AddingAServiceTests {
    /// The handler bodies: all that is written by hand.
    final class InventoryStore: Pipebus_Example_V1_Inventory.ServiceProtocol {
        private let items = Mutex<[String: Pipebus_Example_V1_Item]>([:])

        func put(request: Pipebus_Example_V1_Item, context: ServerContext) async throws -> Pipebus_Example_V1_Stock {
            guard !request.sku.isEmpty else { throw RPCError(code: .invalidArgument, message: "an item needs a sku") }
            items.withLock { $0[request.sku] = request }
            return stock()
        }

        func get(request: Pipebus_Example_V1_ItemRef, context: ServerContext) throws -> Pipebus_Example_V1_Item {
            guard let item = items.withLock({ $0[request.sku] }) else {
                throw RPCError(code: .notFound, message: "no item \(request.sku)")
            }
            return item
        }

        func scan(request: Pipebus_Example_V1_ScanRequest, response: ResponseWriter<Pipebus_Example_V1_Item>, context: ServerContext) async throws {
            for item in stock().items where item.sku.hasPrefix(request.prefix) {
                try await response.write(item)
            }
        }

        func load(request: RequestStream<Pipebus_Example_V1_Item>, context: ServerContext) async throws -> Pipebus_Example_V1_Stock {
            for try await item in request { items.withLock { $0[item.sku] = item } }
            return stock()
        }

        func mirror(request: RequestStream<Pipebus_Example_V1_Item>, response: ResponseWriter<Pipebus_Example_V1_Item>, context: ServerContext) async throws {
            for try await var item in request {
                item.count *= 2
                try await response.write(item)
            }
        }

        private func stock() -> Pipebus_Example_V1_Stock {
            let all = items.withLock { $0.values.sorted { $0.sku < $1.sku } }
            return Pipebus_Example_V1_Stock(items: all, total: all.reduce(0) { $0 + UInt64($1.count) })
        }
    }

    static let lamp = Pipebus_Example_V1_Item(
        sku: "lamp-1",
        count: 3,
        condition: .used,
        tags: ["light", "brass"],
        photo: [0, 1, 2, 255],
        place: .init(aisle: "B", shelf: -2)
    )

    @Test func aServiceIsItsProtoPlusTheHandlerBodies() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try PipeServer(directory: directory.pipes, router: Router(services: [InventoryStore()]))
        try server.start()
        defer { server.shutdown(graceful: false) }
        let pipeClient = PipeClient(directory: directory.pipes)
        defer { pipeClient.close() }
        let inventory = Pipebus_Example_V1_Inventory.Client(wrapping: pipeClient)

        // Unary as a task: every field kind survives the trip (nested message, enum, repeated, bytes).
        let stock = try await inventory.put(Self.lamp)
        #expect(stock.items == [Self.lamp])
        #expect(stock.total == 3)

        // Unary inline, and a status from the handler.
        #expect(try await inventory.get(.init(sku: "lamp-1")) == Self.lamp)
        await #expect(throws: RPCError.self) { try await inventory.get(.init(sku: "chair")) }
        do {
            _ = try await inventory.put(Pipebus_Example_V1_Item())
            Issue.record("an item without a sku was accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message == "an item needs a sku")
        }

        // Client streaming.
        let loaded = try await inventory.load { sender in
            for index in 0..<5 {
                try sender.send(Pipebus_Example_V1_Item(sku: "lamp-\(index + 2)", count: UInt32(index), condition: .new))
            }
        }
        #expect(loaded.items.count == 6)
        #expect(loaded.total == 3 + 0 + 1 + 2 + 3 + 4)

        // Server streaming.
        let scanned = try await inventory.scan(.init(prefix: "lamp-")) { items in
            var skus: [String] = []
            for try await item in items { skus.append(item.sku) }
            return skus
        }
        #expect(scanned == ["lamp-1", "lamp-2", "lamp-3", "lamp-4", "lamp-5", "lamp-6"])

        // Bidirectional.
        let mirrored = try await inventory.mirror { sender, replies in
            var counts: [UInt32] = []
            var iterator = replies.makeAsyncIterator()
            for count in [1, 7, 20] as [UInt32] {
                try sender.send(Pipebus_Example_V1_Item(sku: "x", count: count))
                if let reply = try await iterator.next() { counts.append(reply.count) }
            }
            try sender.finish()
            return counts
        }
        #expect(mirrored == [2, 14, 40])
    }

    /// The `max_count 1000` on Stock.items bounds a decoded body before protobuf-c unpacks it.
    @Test func aRepeatedFieldOverItsMaxCountIsRefused() throws {
        let stock = Pipebus_Example_V1_Stock(items: Array(repeating: Pipebus_Example_V1_Item(sku: "s"), count: 1001))
        let bytes = stock.serializedBytes()
        #expect(throws: RPCError.self) { try Pipebus_Example_V1_Stock(serializedBytes: bytes) }
        let allowed = Pipebus_Example_V1_Stock(items: Array(repeating: Pipebus_Example_V1_Item(sku: "s"), count: 1000))
        #expect(try Pipebus_Example_V1_Stock(serializedBytes: allowed.serializedBytes()) == allowed)
    }

    /// A value of an enum this code does not know survives a round trip.
    @Test func anUnknownEnumValueIsKept() throws {
        let item = Pipebus_Example_V1_Item(sku: "z", condition: .unrecognized(9))
        let decoded = try Pipebus_Example_V1_Item(serializedBytes: item.serializedBytes())
        #expect(decoded.condition == .unrecognized(9))
        #expect(decoded.condition.rawValue == 9)
    }
}
