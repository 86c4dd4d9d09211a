package seed

// SetChunkRows makes COPY statements hold n events until the returned
// function restores the default, so that tests can cross chunk boundaries
// with little data.
func SetChunkRows(n int) (restore func()) {
	old := chunkRows
	chunkRows = n
	return func() { chunkRows = old }
}
