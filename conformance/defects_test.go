package conformance_test

import (
	"slices"
	"testing"
	"time"

	"github.com/refreshmock/refreshmock/conformance"
	"github.com/refreshmock/refreshmock/spec"
)

// TestDefectsDetected proves that each defect of the test implementation
// makes the run fail (exit code 1) with the expected check id, while the
// defect-free implementation passes (TestDefectFreePasses).
func TestDefectsDetected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		defect defect
		check  string
		tune   func(*conformance.Config)
	}{
		{defEnvelopeStatus, spec.RuleEnvelopeStatus, nil},
		{defEnvelopeCode, spec.RuleEnvelopeCode, nil},
		{defEnvelopePlainText, spec.RuleEnvelopeContentType, nil},
		{defEnvelopeNo422, spec.RuleEnvelopeDetails, nil},
		{defSchemaNoTokenType, spec.RuleResponseBody, nil},
		{defSchemaBadUUID, spec.RuleResponseBody, nil},
		{defMissingIs403, conformance.CheckStatusExpected, nil},
		{defWrongTypeIs500, conformance.CheckNegativeNotRejected, nil},
		{defContentTypeUndocumnt, spec.RuleResponseStatus, nil},
		{defOversized500, conformance.CheckNegativeNotRejected, nil},
		{defMalformedStack, conformance.CheckInternalDetails, nil},
		{defNoCacheControl, conformance.CheckCacheControl, nil},
		{defNoRetryAfter, conformance.CheckRetryAfter, nil},
		{defCookieNoHTTP, conformance.CheckCookieHTTPOnly, nil},
		{defCookiePathRoot, conformance.CheckCookiePath, nil},
		{defExpiresIn, conformance.CheckExpiresIn, nil},
		{defEchoToken, conformance.CheckTokenEchoed, nil},
		{defStackTrace, conformance.CheckInternalDetails, nil},
		{defQueryToken, conformance.CheckQueryTokenAccepted, nil},
		{defAnyMethod, conformance.CheckUndocumentedMethodOK, nil},
		{defCrossRedirect, conformance.CheckRedirect, nil},
		{defSlow, conformance.CheckLatency, func(c *conformance.Config) { c.MaxLatency = 10 * time.Millisecond }},
		{defHugeReply, conformance.CheckResponseTooLarge, func(c *conformance.Config) { c.MaxResponseBytes = 16 << 10 }},
		{defReuseAccepted, conformance.CheckRotationReuse, nil},
		{defFamilyKept, conformance.CheckRotationFamily, nil},
		{defNoRotation, conformance.CheckRotationNotRotated, nil},
		{defRace, conformance.CheckRaceMultipleSuccess, nil},
		{defNoWWWAuth, conformance.CheckWWWAuthenticate, nil},
		{defNoAllow, conformance.CheckAllowMissing, nil},
		{defMethodEnvelope, spec.RuleEnvelopeStatus, nil},
		{defBodyTokenIgnored, conformance.CheckBodyTokenIgnored, nil},
		{defNullRejected, conformance.CheckValidBodyRejected, nil},
		{defExtraRejected, conformance.CheckValidBodyRejected, nil},
		{defInvalidIs401, conformance.CheckInvalidBodyStatus, nil},
		{defCodeUnstable, conformance.CheckCodeStable, nil},
		{defNoOrgBreaksBody, spec.RuleResponseBody, nil},
	}
	for _, tc := range tests {
		t.Run(string(tc.defect), func(t *testing.T) {
			t.Parallel()
			cfg, _ := testConfig(t, tc.defect)
			if tc.tune != nil {
				tc.tune(&cfg)
			}
			rep := mustRun(t, cfg)
			if rep.OK() {
				t.Errorf("the run passes (exit 0) with defect %s; want exit 1", tc.defect)
			}
			if got := checksOf(rep); !slices.Contains(got, tc.check) {
				t.Errorf("checks reported = %v, want %s among them; findings:\n%s", got, tc.check, findingsText(rep))
			}
		})
	}
}
