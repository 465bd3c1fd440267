/// Where the two processes of a measurement run.
///
/// Unpinned runs swing ~8x between the two cases here, because waking a sleeping vCPU costs
/// ~22-25 µs, so every cross-process figure is measured in both pinned placements.
enum Placement: String, Codable, Sendable, CaseIterable {
    /// Client and server both on CPU 0: each wake is a context switch on one CPU.
    case sameVCPU = "same-vCPU"
    /// Client on CPU 0, server on CPU 1: each wake crosses vCPUs.
    case twoVCPU = "two-vCPU"
    /// One process on CPU 0, no peer (in-process measurements such as the codec).
    case inProcess = "in-process"

    var clientCPU: Int { 0 }

    var serverCPU: Int {
        switch self {
        case .sameVCPU, .inProcess: 0
        case .twoVCPU: 1
        }
    }

    /// The placements of a two-process measurement.
    static let crossProcess: [Placement] = [.sameVCPU, .twoVCPU]
}
