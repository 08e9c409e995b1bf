import Benchmark
import BenchShapes
import Netfilter

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(5))

    // Building the model of 10,000 Services (chains, rules, map elements) as a transaction.
    Benchmark("model: 10k Services transaction") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(ServiceShape.transaction(services: 10_000))
        }
    }

    // Encoding that transaction into one netlink batch through libnftnl (no send).
    Benchmark("encode: 10k Services batch") { benchmark in
        let t = ServiceShape.transaction(services: 10_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try NFTablesConnection.encodedSize(of: t))
        }
    }
}
