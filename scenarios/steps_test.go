package scenarios

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lookupOf(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := lookupOf(map[string]string{"A": "alpha", "B": "", "TOKEN": "rt_1"})
	tests := []struct {
		name, in, want string
		missing        []string
	}{
		{"no reference", "plain $A {A}", "plain $A {A}", nil},
		{"one", "${A}", "alpha", nil},
		{"several", "x${A}-${TOKEN}y", "xalpha-rt_1y", nil},
		{"empty value is set", "[${B}]", "[]", nil},
		{"missing kept", "${NOPE} and ${A} and ${NOPE} ${ALSO}", "${NOPE} and alpha and ${NOPE} ${ALSO}", []string{"NOPE", "ALSO"}},
		{"not a name", "${1A} ${A-B}", "${1A} ${A-B}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, missing := Expand(tc.in, vars)
			if got != tc.want {
				t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if diff := cmp.Diff(tc.missing, missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestExpand(t *testing.T) {
	t.Parallel()
	raw := `{"t": "${T}"}`
	in := Request{
		Method:      "${M}",
		Path:        "/p/${ID}",
		Headers:     map[string]string{"X-${H}": "v ${T}"},
		Cookies:     map[string]string{"refresh_token": "${T}"},
		Query:       map[string]string{"q": "${GONE}"},
		JSON:        map[string]any{"refresh_token": "${T}", "list": []any{"${T}", 3, map[string]any{"${H}": true}}},
		Raw:         &raw,
		ContentType: "application/${CT}",
	}
	got, missing := in.Expand(lookupOf(map[string]string{"M": "POST", "ID": "7", "H": "Name", "T": "rt_x", "CT": "json"}))
	want := Request{
		Method:      "POST",
		Path:        "/p/7",
		Headers:     map[string]string{"X-Name": "v rt_x"},
		Cookies:     map[string]string{"refresh_token": "rt_x"},
		Query:       map[string]string{"q": "${GONE}"},
		JSON:        map[string]any{"refresh_token": "rt_x", "list": []any{"rt_x", 3, map[string]any{"Name": true}}},
		Raw:         ptrTo(`{"t": "rt_x"}`),
		ContentType: "application/json",
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Request{})); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GONE"}, missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if in.JSON.(map[string]any)["refresh_token"] != "${T}" || *in.Raw != raw {
		t.Errorf("Expand modified its receiver: %+v", in)
	}
	if diff := cmp.Diff([]string{"CT", "GONE", "H", "ID", "M", "T"}, in.Vars()); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestParseVars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr []string // substrings of the error
	}{
		{
			name: "shipped style",
			in:   "# comment\n\nREFRESH_TOKEN=rt_seed_dev\n  export OTHER = spaced value  \nEMPTY=\nEQ=a=b\n",
			want: map[string]string{"REFRESH_TOKEN": "rt_seed_dev", "OTHER": "spaced value", "EMPTY": "", "EQ": "a=b"},
		},
		{
			name: "quotes",
			in:   "\ufeffD=\"a\\tb # c\"\nS='x \"y\"'\nU=\"unclosed\n",
			want: map[string]string{"D": "a\tb # c", "S": `x "y"`, "U": `"unclosed`},
		},
		{
			name:    "every problem with its line",
			in:      "GOOD=1\nno equals sign\n1BAD=x\nGOOD=2\nQ=\"\\q\"\n",
			wantErr: []string{"vars.env:2: expected KEY=VALUE", `vars.env:3: "1BAD" is not a variable name`, "vars.env:4: GOOD is set twice", "vars.env:5: value of Q"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseVars(strings.NewReader(tc.in), "vars.env")
			if len(tc.wantErr) > 0 {
				if !errors.Is(err, ErrVarsFile) {
					t.Fatalf("err = %v, want ErrVarsFile", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseVars (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssertionCheck(t *testing.T) {
	t.Parallel()
	body := []byte(`{"status":401,"code":"refresh_token_expired","n":1.5,"obj":{"a":[1,2]},"nil":null}`)
	yes, no := true, false
	tests := []struct {
		name    string
		a       Assertion
		wantErr string // "" means pass
	}{
		{"equals string", Assertion{Path: "code", Equals: "refresh_token_expired"}, ""},
		{"equals int against JSON number", Assertion{Path: "status", Equals: 401}, ""},
		{"equals object", Assertion{Path: "obj", Equals: map[string]any{"a": []any{1, 2}}}, ""},
		{"equals null", Assertion{Path: "nil", Equals: nil, hasEquals: true}, ""},
		{"equals wrong", Assertion{Path: "code", Equals: "refresh_token_reused"}, `code: expected "refresh_token_reused", got "refresh_token_expired"`},
		{"equals missing", Assertion{Path: "nope", Equals: "x"}, `nope: expected "x", got nothing (missing)`},
		{"equals null but missing", Assertion{Path: "nope", Equals: nil, hasEquals: true}, `nope: expected null, got nothing (missing)`},
		{"exists", Assertion{Path: "obj.a", Exists: &yes}, ""},
		{"exists fails", Assertion{Path: "access_token", Exists: &yes}, "access_token: expected to exist, got nothing"},
		{"absent", Assertion{Path: "access_token", Exists: &no}, ""},
		{"absent fails", Assertion{Path: "code", Exists: &no}, `code: expected to be absent, got "refresh_token_expired"`},
		{"matches", Assertion{Path: "code", Matches: "^refresh_token_"}, ""},
		{"matches fails", Assertion{Path: "code", Matches: "^x"}, `code: expected a value matching "^x", got "refresh_token_expired"`},
		{"matches non-string", Assertion{Path: "status", Matches: "4.."}, `status: expected a string matching "4..", got 401`},
		{"matches bad regexp", Assertion{Path: "code", Matches: "("}, "does not compile"},
		{"one_of", Assertion{Path: "code", OneOf: []any{"a", "refresh_token_expired"}}, ""},
		{"one_of number", Assertion{Path: "n", OneOf: []any{1.5}}, ""},
		{"one_of fails", Assertion{Path: "code", OneOf: []any{"a", "b"}}, `code: expected one of ["a","b"], got "refresh_token_expired"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.a.Check(body)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Check(%s) = %v, want nil", tc.a.String(), err)
				}
				return
			}
			if !errors.Is(err, ErrAssertion) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Check(%s) = %v, want an ErrAssertion mentioning %q", tc.a.String(), err, tc.wantErr)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		a := Assertion{Path: "code", Equals: "x"}
		if err := a.Check([]byte("<html>oops</html>")); err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("Check = %v, want a not-JSON error", err)
		}
	})
}

func TestCaptureExtract(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Add("Set-Cookie", "refresh_token=old; Path=/auth")
	h.Add("Set-Cookie", "other=1")
	h.Add("Set-Cookie", "refresh_token=rt_new; Path=/auth; HttpOnly")
	h.Add("Set-Cookie", "empty=; Max-Age=0")
	h.Set("X-Request-Id", "req-1")
	body := []byte(`{"access_token":"at_1","n":5,"org":{"id":"o1"},"nil":null}`)
	tests := []struct {
		capture Capture
		want    string
		ok      bool
	}{
		{Capture{"cookie", "refresh_token"}, "rt_new", true},
		{Capture{"cookie", "missing"}, "", false},
		{Capture{"cookie", "empty"}, "", false},
		{Capture{"header", "x-request-id"}, "req-1", true},
		{Capture{"header", "X-None"}, "", false},
		{Capture{"json", "access_token"}, "at_1", true},
		{Capture{"json", "n"}, "5", true},
		{Capture{"json", "org.id"}, "o1", true},
		{Capture{"json", "nil"}, "", false},
		{Capture{"json", "none"}, "", false},
		{Capture{"nowhere", "x"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.capture.String(), func(t *testing.T) {
			t.Parallel()
			got, ok := tc.capture.Extract(h, body)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Extract = %q, %t; want %q, %t", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseVars(f *testing.F) {
	for _, seed := range []string{"A=1\n# c\nexport B = 'x'\nC=\"\\t\"\n", "=\n", "1A=2", "A=\"unterminated", "\ufeffA=b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		vars, err := ParseVars(strings.NewReader(in), "fuzz.vars")
		if err != nil {
			if !errors.Is(err, ErrVarsFile) && !strings.Contains(err.Error(), "read vars") {
				t.Fatalf("error %v does not wrap ErrVarsFile", err)
			}
			return
		}
		for k := range vars {
			if !varName.MatchString(k) {
				t.Fatalf("ParseVars accepted the name %q", k)
			}
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, seed := range []string{"${A}", "x${A}y${B}", "${", "${}", "$${A}}", "${A", "${A}${A}"} {
		f.Add(seed, "value")
	}
	f.Fuzz(func(t *testing.T, in, value string) {
		got, missing := Expand(in, func(string) (string, bool) { return value, true })
		if want := varPattern.ReplaceAllLiteralString(in, value); got != want || len(missing) != 0 {
			t.Fatalf("Expand(%q) = %q, %v; want %q, none missing", in, got, missing, want)
		}
		var names []string
		for _, m := range varPattern.FindAllStringSubmatch(in, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
		got, missing = Expand(in, func(string) (string, bool) { return "", false })
		if got != in || !slices.Equal(missing, names) {
			t.Fatalf("Expand(%q) with nothing set = %q, %v; want the input and %v missing", in, got, missing, names)
		}
	})
}
