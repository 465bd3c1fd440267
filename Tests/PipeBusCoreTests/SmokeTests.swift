import Testing
@testable import PipeBusCore
@Test func smoke() { #expect(StatusCode.ok.description == "OK") }
