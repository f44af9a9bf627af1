package mockserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// ConfigState is the body of GET and POST /__mock/config: the settings a
// client may change at run time, in force now.
type ConfigState struct {
	// AccessTTL is the lifetime of the access tokens rotation issues
	// (expires_in, and exp - iat of the JWT).
	AccessTTL string `json:"access_ttl"`
	// RefreshTTL is the lifetime of refresh tokens on the mock clock.
	RefreshTTL string `json:"refresh_ttl"`
}

// ConfigRequest is the body of POST /__mock/config.
type ConfigRequest struct {
	// AccessTTL (a Go duration, MinAccessTTL to MaxAccessTTL) sets the
	// lifetime of the access tokens issued from now on, until reset
	// restores Config.AccessTTL: e.g. "30s" to watch an app refresh.
	AccessTTL string `json:"access_ttl"`
}

func (s *Server) configState() ConfigState {
	access, refresh := s.store.ttls()
	return ConfigState{AccessTTL: access.String(), RefreshTTL: refresh.String()}
}

func (s *Server) ctlConfig(c *gin.Context) { c.JSON(http.StatusOK, s.configState()) }

func (s *Server) ctlSetConfig(c *gin.Context) {
	var req ConfigRequest
	if !decodeControl(c, &req) || !checkTexts(c, textField{"access_ttl", req.AccessTTL, maxDurationText}) {
		return
	}
	if req.AccessTTL == "" {
		ctlFail(c, http.StatusBadRequest, `nothing to set; send {"access_ttl": "30s"}`)
		return
	}
	d, err := time.ParseDuration(req.AccessTTL)
	if err == nil {
		_, err = s.store.setAccessTTL(d)
	} else {
		err = fmt.Errorf("access_ttl %q is not a duration such as \"30s\" or \"15m\"", req.AccessTTL)
	}
	if err != nil {
		ctlFail(c, http.StatusBadRequest, "%v", err)
		return
	}
	c.JSON(http.StatusOK, s.configState())
}

// TokenStoreHealth is the token store's part of GET /__mock/health.
type TokenStoreHealth struct {
	Max int `json:"max_tokens"`
	// Evicted counts, since the last reset, the tokens forgotten to make
	// room: first those that can never be valid again (rotated, or of a
	// revoked family), then the oldest.
	Evicted int `json:"evicted"`
	// LiveEvicted counts those of them that were still valid: clients that
	// present them get refresh_token_invalid. Warning says so.
	LiveEvicted int    `json:"live_evicted"`
	Warning     string `json:"warning,omitempty"`
	AccessTTL   string `json:"access_ttl"`
	ClockOffset string `json:"clock_offset"`
}

func (st *store) health() TokenStoreHealth {
	st.mu.Lock()
	defer st.mu.Unlock()
	h := TokenStoreHealth{Max: maxTokens, Evicted: st.evicted, LiveEvicted: st.liveEvicted, AccessTTL: st.accessTTL.String(), ClockOffset: st.clk.offset.String()}
	if st.liveEvicted > 0 {
		h.Warning = fmt.Sprintf("%d valid refresh tokens were forgotten to make room (the store holds at most %d); presenting them answers refresh_token_invalid", st.liveEvicted, maxTokens)
	}
	return h
}
