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

func TestFeedQueries(t *testing.T) {
	good := map[string][2]int64{"": {2147483647, 20}, "before=5&limit=1": {5, 1}, "before=0": {0, 20}}
	for query, want := range good {
		before, limit, problem := parseFeed(query)
		if problem != "" || int64(before) != want[0] || int64(limit) != want[1] {
			t.Errorf("parseFeed(%q) = %d, %d, %q", query, before, limit, problem)
		}
	}
	for _, query := range []string{"limit=0", "before=-1", "before=2147483648", "before=1&before=2", "before="} {
		if _, _, problem := parseFeed(query); problem == "" {
			t.Errorf("parseFeed(%q) accepted", query)
		}
	}
}

func TestQueriesCount(t *testing.T) {
	cases := map[string]int{"": 1, "n=": 1, "n=abc": 1, "n=0": 1, "n=-5": 1, "n=1": 1, "n=20": 20, "n=500": 500,
		"n=501": 500, "n=99999999999999999999": 500, "n=007": 7, "n=1.5": 1, "n=%2B5": 1, "n=5&n=9": 5, "m=5": 1}
	for query, want := range cases {
		if got := parseQueries(query); got != want {
			t.Errorf("parseQueries(%q) = %d, want %d", query, got, want)
		}
	}
}
