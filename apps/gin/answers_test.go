package main

import "testing"

func TestLoneSurrogates(t *testing.T) {
	cases := map[string]bool{
		`"\ud800"`:             true,
		`"x\udc00y"`:           true,
		`"\ud800\u0041"`:       true,
		`"\ud83d\ude00"`:       false,
		`"\\ud800"`:            false,
		`"\u00e9 \n \""`:       false,
		`"plain"`:              false,
		`"\ud83d\ude00\ud800"`: true,
	}
	for raw, want := range cases {
		if got := hasLoneSurrogate([]byte(raw)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestPageQueries(t *testing.T) {
	good := map[string][2]int64{"": {0, 20}, "after=5&limit=1": {5, 1}, "limit=100": {0, 100}, "x=1": {0, 20}}
	for query, want := range good {
		after, limit, problem := parsePage(query)
		if problem != "" || int64(after) != want[0] || int64(limit) != want[1] {
			t.Errorf("parsePage(%q) = %d, %d, %q", query, after, limit, problem)
		}
	}
	for _, query := range []string{"limit=0", "limit=101", "limit=-1", "limit=%2B5", "limit=", "after=1&after=2",
		"after=2147483648", "limit=1;after=2", "after=abc"} {
		if _, _, problem := parsePage(query); problem == "" {
			t.Errorf("parsePage(%q) accepted", query)
		}
	}
}
