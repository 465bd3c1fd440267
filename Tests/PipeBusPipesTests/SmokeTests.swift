import Testing
@testable import PipeBusPipes
@Test func pipesSmoke() { #expect(Bool(true)) }
