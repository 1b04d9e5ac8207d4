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

/// Partition groups: nodes reach each other only inside one group; a node in no group is alone.
struct Partition: CustomStringConvertible {
    private(set) var groups: [[NodeID]]?

    /// The whole network.
    init() {}

    init(groups: [[NodeID]]) {
        self.groups = groups
    }

    var isWhole: Bool { groups == nil }

    func canReach(_ a: NodeID, _ b: NodeID) -> Bool {
        guard let groups else { return true }
        return groups.contains { $0.contains(a) && $0.contains(b) }
    }

    var description: String {
        guard let groups else { return "whole" }
        return groups.map { $0.map(String.init).joined(separator: ",") }.joined(separator: " | ")
    }
}
