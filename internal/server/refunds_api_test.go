package server_test

import (
	"strings"
	"testing"
)

// TestOrderListsItsRefunds: Order.refunds shows each refund with its amount
// and state, and a refused refund adds none.
func TestOrderListsItsRefunds(t *testing.T) {
	e, rec := moneyEnv(t)
	staff := e.staff(t, "apparel")
	p := e.payOrder(t, "merino-crew-tee", 2)
	part := p.Total / 4
	if out := e.refundCall(t, staff, "refund", p.GID, part, "listed-1"); !out.OK {
		t.Fatalf("refund: %+v", out)
	}
	if out := e.refundCall(t, staff, "refund", p.GID, p.Total, "listed-2"); out.OK {
		t.Fatalf("a refund of more than is left succeeded: %+v", out)
	}
	var got struct {
		Order struct {
			Refunds []struct {
				Amount            struct{ Amount string }
				State             string
				ProviderReference *string
			}
		}
	}
	mustData(t, e.do(t, staff, `query($id: ID!) { order(id: $id) { refunds { amount { amount } state providerReference } } }`, map[string]any{"id": p.GID}), &got)
	if len(got.Order.Refunds) != 1 {
		t.Fatalf("refunds %+v, want exactly the one that was made", got.Order.Refunds)
	}
	r := got.Order.Refunds[0]
	if r.State != "SUCCEEDED" || r.Amount.Amount != decimal(part) || r.ProviderReference == nil || !strings.HasPrefix(*r.ProviderReference, "re_rec_") {
		t.Fatalf("refund %+v, want SUCCEEDED %s with the provider's id", r, decimal(part))
	}
	if rec.RefundedTotal(p.Intent) != part {
		t.Fatalf("provider refunded %d, want %d", rec.RefundedTotal(p.Intent), part)
	}
}
