package db

// SetBroadScanRows sets how many events a page of a broad search reads
// before it falls back to the email index, so that tests can reach both
// ways with a small log; 0 goes to the email index at once.
func (s *EventStore) SetBroadScanRows(n int64) { s.broadScanRows = n }

// WindowsPay is windowsPay, for its tests.
var WindowsPay = windowsPay
