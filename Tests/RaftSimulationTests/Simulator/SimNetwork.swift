import RaftCore

/// The hostile network's settings: every message may be dropped, duplicated or delayed (which
/// also reorders it), and a partition decides who can reach whom at delivery time.
struct NetworkFaults: CustomStringConvertible {
    var dropRate: Double = 0
    var duplicateRate: Double = 0
    /// Delay in time units (a tick is `SimCluster.unitsPerTick` units).
    var minDelay: Int = 1
    var maxDelay: Int = 3
    /// Chance that a message is held for up to `longDelay` units instead.
    var longDelayRate: Double = 0
    var longDelay: Int = 60

    static let reliable = NetworkFaults()

    var description: String {
        "drop \(dropRate.formatted2) dup \(duplicateRate.formatted2) delay \(minDelay)...\(maxDelay) long \(longDelayRate.formatted2)"
    }
}

extension Double {
    var formatted2: String {
        let hundredths = Int((self * 100).rounded())
        return "0.\(hundredths < 10 ? "0" : "")\(hundredths)"
    }
}

/// Partition groups: nodes reach each other only inside one group.
struct Partition: CustomStringConvertible {
    private(set) var groupOf: [Int]

    init(clusterSize: Int) {
        groupOf = Array(repeating: 0, count: clusterSize)
    }

    init(groups: [[NodeID]], clusterSize: Int) {
        groupOf = Array(repeating: -1, count: clusterSize)
        for (number, group) in groups.enumerated() {
            for node in group { groupOf[node] = number }
        }
        // Nodes named in no group are each alone.
        for node in 0..<clusterSize where groupOf[node] == -1 {
            groupOf[node] = groups.count + node
        }
    }

    var isWhole: Bool { Set(groupOf).count == 1 }

    func canReach(_ a: NodeID, _ b: NodeID) -> Bool { groupOf[a] == groupOf[b] }

    var description: String {
        if isWhole { return "whole" }
        var groups: [Int: [NodeID]] = [:]
        for (node, group) in groupOf.enumerated() { groups[group, default: []].append(node) }
        return groups.keys.sorted().map { groups[$0]!.map(String.init).joined(separator: ",") }.joined(separator: " | ")
    }
}
