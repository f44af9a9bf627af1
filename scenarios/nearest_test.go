package scenarios

import (
	"net/http"
	"strings"
	"testing"
)

// TestNearestRejections: the journal's nearest rejected scenarios are
// ranked by how close each came (conditions held, then the edit distance
// of a failing value), not listed in match order.
func TestNearestRejections(t *testing.T) {
	t.Parallel()
	sel := NewSelector(mustShipped(t))
	tests := []struct {
		name, cookie, body, token string
		first                     string
	}{
		{"mistyped test token in the cookie", "rt_test_426_upgrad", "", TokenInvalid, "upgrade-required"},
		{"mistyped test token in the body", "", `{"refresh_token":"rt_test_403_user_revokd"}`, TokenInvalid, "user-revoked"},
		{"one letter off another", "rt_test_502_bad_gatewy", "", TokenInvalid, "bad-gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &RequestData{Method: http.MethodPost, Headers: http.Header{}, Cookies: map[string]string{}, Body: []byte(tc.body)}
			if tc.cookie != "" {
				req.Cookies["refresh_token"] = tc.cookie
			}
			got, err := sel.Select(Query{Operation: "refresh_token", Request: req, Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			rej := got.Rejections()
			if len(rej) == 0 || rej[0].Scenario != tc.first {
				t.Fatalf("nearest rejected = %+v, want %s first", rej, tc.first)
			}
			if !strings.Contains(rej[0].Reason, "want") || len(rej) > MaxRejected {
				t.Errorf("rejections %+v: want a reason and at most %d", rej, MaxRejected)
			}
		})
	}
}

func TestMatchDistance(t *testing.T) {
	t.Parallel()
	eq := Equals
	m := Match{Any: []Match{{Cookies: map[string]Condition{"t": eq("rt_test_426_upgrade")}}, {Body: map[string]Condition{"t": eq("rt_test_426_upgrade")}}}}
	tests := []struct {
		name string
		req  *RequestData
		want int
	}{
		{"one letter short", &RequestData{Cookies: map[string]string{"t": "rt_test_426_upgrad"}}, 1},
		{"in the body", &RequestData{Body: []byte(`{"t":"rt_test_426_upgrxde"}`)}, 1},
		{"absent", &RequestData{}, -1},
		{"long value is cut", &RequestData{Cookies: map[string]string{"t": strings.Repeat("x", 70000)}}, maxDistanceInput},
	}
	for _, tc := range tests {
		if got := m.distance(tc.req, &bodyCache{}); got != tc.want {
			t.Errorf("%s: distance = %d, want %d", tc.name, got, tc.want)
		}
	}
}
