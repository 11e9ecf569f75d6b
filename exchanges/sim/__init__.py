"""exchanges/sim."""
