package wire

import (
	"context"

	"go.opentelemetry.io/otel"

	pb "github.com/valetgw/valet/plugins/proto/v1"
)

// The W3C trace context crosses the hop in CallRequest.trace_context, a
// text-map carrier written and read by the process's global propagator
// (otel.GetTextMapPropagator). With none configured, the default no-op
// propagator writes nothing, so a call without tracing carries no map.

// InjectTrace writes ctx's trace context into req, on the host side.
func InjectTrace(ctx context.Context, req *pb.CallRequest) {
	otel.GetTextMapPropagator().Inject(ctx, carrier{req})
}

// ExtractTrace returns ctx with the trace context req carries, on the
// plugin side; ctx itself when it carries none.
func ExtractTrace(ctx context.Context, req *pb.CallRequest) context.Context {
	if len(req.GetTraceContext()) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, carrier{req})
}

// carrier is CallRequest.trace_context as a propagation.TextMapCarrier,
// whose map is made only when a propagator writes to it.
type carrier struct{ req *pb.CallRequest }

func (c carrier) Get(key string) string { return c.req.GetTraceContext()[key] }

func (c carrier) Set(key, value string) {
	if c.req.TraceContext == nil {
		c.req.TraceContext = make(map[string]string, 2)
	}
	c.req.TraceContext[key] = value
}

func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c.req.GetTraceContext()))
	for k := range c.req.GetTraceContext() {
		keys = append(keys, k)
	}
	return keys
}
