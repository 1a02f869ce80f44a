"""The risk engine: pre-trade checks, trading states, the kill switch and the circuit breaker."""
