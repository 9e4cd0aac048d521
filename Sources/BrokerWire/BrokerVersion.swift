// The release every executable of one build shares; the agent reports it so `brokerctl doctor` can see a stale agent.

public enum BrokerVersion {
    public static let current = "0.4.0"
}
