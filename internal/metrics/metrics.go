// Package metrics holds the service's Prometheus collectors: GraphQL
// requests by operation and outcome, HTTP latency, the database pool, and
// the figures other parts register (live subscribers, sync attempts).
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxOperations caps the distinct operation names used as label values;
// later names are counted as "other" so clients cannot grow the series
// without bound.
const maxOperations = 200

var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Metrics is the set of collectors of one process.
type Metrics struct {
	registry    *prometheus.Registry
	gqlTotal    *prometheus.CounterVec
	gqlLatency  *prometheus.HistogramVec
	httpTotal   *prometheus.CounterVec
	httpLatency *prometheus.HistogramVec

	mu   sync.Mutex
	seen map[string]struct{}
}

// New registers the collectors, including the pool statistics of sqldb.
func New(sqldb *sql.DB) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		gqlTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpscout_log_graphql_requests_total",
			Help: "GraphQL operations by operation name and outcome (ok, error, partial).",
		}, []string{"operation", "outcome"}),
		gqlLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpscout_log_graphql_duration_seconds",
			Help:    "GraphQL operation latency by operation name.",
			Buckets: []float64{.001, .0025, .005, .01, .015, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		httpTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpscout_log_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpscout_log_http_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		seen: map[string]struct{}{},
	}
	m.registry.MustRegister(m.gqlTotal, m.gqlLatency, m.httpTotal, m.httpLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if sqldb != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(sqldb, "helpscout_log"))
	}
	return m
}

// GaugeFunc registers a gauge whose value read returns at scrape time.
func (m *Metrics) GaugeFunc(name, help string, read func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// CounterFunc registers a counter whose value read returns at scrape time;
// read must never decrease.
func (m *Metrics) CounterFunc(name, help string, read func() float64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read))
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// label returns the label value for an operation name. Only callers with
// a valid token name series: the operations of unauthenticated requests
// are counted together, so that anyone able to reach the endpoint cannot
// take the label slots of real operations.
func (m *Metrics) label(op string, authenticated bool) string {
	if !authenticated {
		return "unauthenticated"
	}
	if op == "" {
		return "anonymous"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A name already seen was checked when it was first seen.
	if _, ok := m.seen[op]; ok {
		return op
	}
	if len(m.seen) >= maxOperations || !operationName.MatchString(op) {
		return "other"
	}
	m.seen[op] = struct{}{}
	return op
}

// ObserveOperation records one GraphQL operation, by its name when the
// caller was authenticated.
func (m *Metrics) ObserveOperation(op, outcome string, authenticated bool, d time.Duration) {
	l := m.label(op, authenticated)
	m.gqlTotal.WithLabelValues(l, outcome).Inc()
	m.gqlLatency.WithLabelValues(l).Observe(d.Seconds())
}

// ObserveHTTP records one HTTP request.
func (m *Metrics) ObserveHTTP(route string, code int, d time.Duration) {
	m.httpTotal.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpLatency.WithLabelValues(route).Observe(d.Seconds())
}

// QueueReading is what the sync queue gauges show.
type QueueReading struct {
	// Queued, Due, Running and Failed count the jobs in each state; Due
	// are the queued jobs whose time has come.
	Queued, Due, Running, Failed int
	// OldestDue is how long the oldest due job has waited; zero for none.
	OldestDue time.Duration
}

// queueReadTimeout bounds the read behind one scrape of the queue gauges.
const queueReadTimeout = 2 * time.Second

// SyncQueue registers gauges of the shared sync queue, which read reads at
// scrape time: helpscout_log_sync_jobs{state} and
// helpscout_log_sync_oldest_due_seconds. Every replica reads the same
// queue, so alerts take the max over replicas. When read fails (the
// database away), a scrape leaves the gauges out rather than show zeros.
func (m *Metrics) SyncQueue(read func(ctx context.Context) (QueueReading, error)) {
	m.registry.MustRegister(&queueCollector{read: read,
		jobs: prometheus.NewDesc("helpscout_log_sync_jobs",
			"Sync jobs in the shared queue by state (queued, due: queued and whose time has come, running, failed).", []string{"state"}, nil),
		oldest: prometheus.NewDesc("helpscout_log_sync_oldest_due_seconds",
			"How long the oldest due sync job has waited for a worker; 0 when none waits. It grows while no worker runs.", nil, nil),
	})
}

// queueCollector is the collector of SyncQueue.
type queueCollector struct {
	read         func(ctx context.Context) (QueueReading, error)
	jobs, oldest *prometheus.Desc
}

// Describe sends the gauges' descriptions.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.oldest
}

// Collect reads the queue once for every gauge.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueReadTimeout)
	defer cancel()
	q, err := c.read(ctx)
	if err != nil {
		return
	}
	for state, n := range map[string]int{"queued": q.Queued, "due": q.Due, "running": q.Running, "failed": q.Failed} {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, q.OldestDue.Seconds())
}
