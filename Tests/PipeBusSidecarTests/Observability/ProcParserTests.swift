import Foundation
import Testing

@testable import PipeBusSidecar

@Suite("/proc parsers")
struct ProcParserTests {
    @Test
    func statCountsFieldsFromTheLastParenthesis() throws {
        let line =
            "4242 (we ird) (x) S 17 4242 4242 0 -1 4194560 500 0 0 0 150 25 7 3 20 0 1 0 98765 123456 789 "
            + "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcParser.processStat(Array(line.utf8)[...]))
        #expect(
            stat
                == ProcParser.ProcessStat(
                    parentPID: 17, cpuTicks: 150 + 25 + 7 + 3, startTicks: 98765, rssPages: 789,
                    processGroup: 4242, state: UInt8(ascii: "S")
                )
        )
        #expect(!stat.hasEnded)
        let zombie = try #require(ProcParser.processStat(Array(line.replacingOccurrences(of: "(x) S", with: "(x) Z").utf8)[...]))
        #expect(zombie.hasEnded)
        #expect(ProcParser.processStat(Array("1 (x) S 0".utf8)[...]) == nil)
    }

    @Test
    func systemCPUIgnoresGuestColumns() throws {
        let text = "cpu  100 5 50 1000 20 1 2 3 99 99\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
        let cpu = try #require(ProcParser.systemCPU(Array(text.utf8)[...]))
        #expect(cpu.total == 100 + 5 + 50 + 1000 + 20 + 1 + 2 + 3)
        #expect(cpu.busy == cpu.total - 1020)
    }

    @Test
    func memoryUsedIsTotalMinusAvailable() {
        let text = "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\n"
        #expect(ProcParser.memoryUsed(Array(text.utf8)[...]) == 600 * 1024)
        #expect(ProcParser.memoryUsed(Array("MemTotal: 5 kB\n".utf8)[...]) == nil)
    }

    @Test
    func diskOperationsCountWholePhysicalDisksOnly() {
        let text = """
               7       0 loop0 11 0 0 0 11 0 0 0 0 0 0
             254       0 vda 100 5 0 0 50 3 0 0 0 0 0
             254       1 vda1 90 0 0 0 45 0 0 0 0 0 0
             259       0 nvme0n1 7 0 0 0 3 0 0 0 0 0 0
             259       1 nvme0n1p1 7 0 0 0 3 0 0 0 0 0 0
             259       2 nvme0n10 1 0 0 0 1 0 0 0 0 0 0
             253       0 dm-0 1000 0 0 0 1000 0 0 0 0 0 0
             252       0 zram0 9 0 0 0 9 0 0 0 0 0 0
            """
        #expect(ProcParser.diskOperations(Array(text.utf8)[...]) == 150 + 10 + 2)
    }

    @Test
    func ioOperationsAreSyscrPlusSyscw() {
        let text = "rchar: 1\nwchar: 2\nsyscr: 30\nsyscw: 12\nread_bytes: 0\n"
        #expect(ProcParser.ioOperations(Array(text.utf8)[...]) == 42)
        #expect(ProcParser.number(Array("18446744073709551616".utf8)[...]) == nil)
    }
}
