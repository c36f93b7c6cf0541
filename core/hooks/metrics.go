package hooks

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts deliveries. It is a prometheus.Collector: the gateway
// registers it beside its own metrics and hands it to NewSender.
type Metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	// series holds the two series of each store, event and outcome seen
	// (a few stores × 4 events × 4 outcomes), so that a delivery does not
	// look its labels up again.
	series sync.Map // seriesKey → series
}

type seriesKey struct {
	store string
	t     Type
	o     Outcome
}

type series struct {
	deliveries prometheus.Counter
	duration   prometheus.Observer
}

// NewMetrics returns the collectors of valet_hook_deliveries_total (by
// store, event and outcome) and valet_hook_delivery_duration_seconds (by
// store and event, every attempt included).
func NewMetrics() *Metrics {
	return &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_hook_deliveries_total", Help: "Hook deliveries by store, event and outcome (accepted, rejected, unavailable, invalid_answer).",
		}, []string{"store", "event", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "valet_hook_delivery_duration_seconds", Help: "Hook delivery time by store and event, every attempt included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"store", "event"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.deliveries.Describe(ch)
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.deliveries.Collect(ch)
	m.duration.Collect(ch)
}

func (m *Metrics) record(store string, t Type, o Outcome, d time.Duration) {
	if m == nil {
		return
	}
	k := seriesKey{store, t, o}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, series{
			deliveries: m.deliveries.WithLabelValues(store, string(t), string(o)),
			duration:   m.duration.WithLabelValues(store, string(t)),
		})
	}
	sr := v.(series)
	sr.deliveries.Inc()
	sr.duration.Observe(d.Seconds())
}
