import Foundation
import PipeBusCore
import Testing

/// A fixture's bytes, as a current writer left them (`Fixtures/`).
func fixture(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    return Array(try Data(contentsOf: url))
}

/// Runs `body`, expecting an `RPCError` with `code`; returns it.
@discardableResult
func expectRPCError(_ code: StatusCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> RPCError? {
    do {
        try body()
        Issue.record("expected \(code), got no error", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == code, sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected an RPCError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
