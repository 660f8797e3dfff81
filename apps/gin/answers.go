package main

// The HTTP glue and the answers of every endpoint, with the same input rules as the
// Python apps' apps/answers.py (schema/http-contract.md).

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

const (
	pageLimitDefault = 20
	pageLimitMax     = 100
	bioMax           = 1000
	maxBodyBytes     = 16 * 1024
	usernameMax      = 255
	queriesMax       = 500 // TechEmpower's multiple-queries test: 1..500 lookups per request
)

var (
	digits        = regexp.MustCompile(`^[0-9]{1,10}$`)
	signedInteger = regexp.MustCompile(`^-?[0-9]+$`)
)

type detail struct {
	Detail string `json:"detail"`
}

type page struct {
	Users     []User `json:"users"`
	NextAfter *int32 `json:"next_after"`
}

type feed struct {
	Posts      []FeedPost `json:"posts"`
	NextBefore *int32     `json:"next_before"`
}

var notFoundBody = detail{Detail: "user not found"}

// pathID is the path's id; ok is false after answering 400 (not an integer) or 404 (an
// integer outside int4, which cannot be a row: no query).
func pathID(c *gin.Context) (int32, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		c.JSON(http.StatusBadRequest, detail{Detail: "id must be an integer"})
		return 0, false
	}
	if err != nil || id < math.MinInt32 || id > math.MaxInt32 {
		c.JSON(http.StatusNotFound, notFoundBody)
		return 0, false
	}
	return int32(id), true
}

func userOr404(c *gin.Context, user *User, err error) {
	switch {
	case err != nil:
		c.JSON(http.StatusInternalServerError, detail{Detail: "database error"})
	case user == nil:
		c.JSON(http.StatusNotFound, notFoundBody)
	default:
		c.JSON(http.StatusOK, user)
	}
}

// parsePage reads after and limit: each at most once, plain digits, 0 <= after <= 2^31-1,
// 1 <= limit <= 100; parameters it does not know are ignored.
func parsePage(rawQuery string) (int32, int, string) {
	return parseKeyset(rawQuery, "after", 0)
}

// parseFeed reads before and limit by the page's rules; without before, the newest post is first.
func parseFeed(rawQuery string) (int32, int, string) {
	return parseKeyset(rawQuery, "before", math.MaxInt32)
}

// parseQueries is TechEmpower's rule for n: its first value, clamped to 1..500; missing or not
// an integer (an optional minus sign and ASCII digits) counts as 1. Never an error.
func parseQueries(rawQuery string) int {
	values, _ := url.ParseQuery(rawQuery)
	given := values.Get("n")
	if !signedInteger.MatchString(given) || strings.HasPrefix(given, "-") {
		return 1
	}
	trimmed := strings.TrimLeft(given, "0")
	if len(trimmed) > 3 {
		return queriesMax
	}
	n, _ := strconv.Atoi("0" + trimmed)
	return max(1, min(queriesMax, n))
}

func parseKeyset(rawQuery, key string, fallback int64) (int32, int, string) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, 0, "the query string is malformed"
	}
	number := func(name string, fallback int64) (int64, string) {
		given, ok := values[name]
		if !ok {
			return fallback, ""
		}
		if len(given) > 1 {
			return 0, name + " is given more than once"
		}
		if !digits.MatchString(given[0]) {
			return 0, name + " must be a whole number written in digits"
		}
		n, _ := strconv.ParseInt(given[0], 10, 64)
		return n, ""
	}
	position, problem := number(key, fallback)
	if problem != "" {
		return 0, 0, problem
	}
	limit, problem := number("limit", pageLimitDefault)
	if problem != "" {
		return 0, 0, problem
	}
	if position > math.MaxInt32 {
		return 0, 0, key + " must be at most 2147483647"
	}
	if limit < 1 || limit > pageLimitMax {
		return 0, 0, "limit must be from 1 to 100"
	}
	return int32(position), int(limit), ""
}

// parseBio reads {"bio": "..."}: exactly that key (Go's JSON decoding would match keys
// case-insensitively, so the keys are checked first), a string of 1 to 1,000 characters.
func parseBio(c *gin.Context) (string, int, string) {
	media, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if media != "application/json" {
		return "", http.StatusUnsupportedMediaType, "the body must be application/json"
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBodyBytes+1))
	if err != nil {
		return "", http.StatusBadRequest, "the body cannot be read"
	}
	if len(body) > maxBodyBytes {
		return "", http.StatusRequestEntityTooLarge, "the body is larger than 16384 bytes"
	}
	if !utf8.Valid(body) {
		return "", http.StatusBadRequest, "the body is not JSON"
	}
	var fields map[string]json.RawMessage
	decoder := json.NewDecoder(bytes.NewReader(body))
	if err := decoder.Decode(&fields); err != nil || decoder.More() {
		var typeError *json.UnmarshalTypeError
		if errors.As(err, &typeError) {
			return "", http.StatusUnprocessableEntity, `the body must be {"bio": "..."} and nothing else`
		}
		return "", http.StatusBadRequest, "the body is not JSON"
	}
	raw, ok := fields["bio"]
	if !ok || len(fields) != 1 {
		return "", http.StatusUnprocessableEntity, `the body must be {"bio": "..."} and nothing else`
	}
	var bio string
	if err := json.Unmarshal(raw, &bio); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", http.StatusUnprocessableEntity, "bio must be a string of 1 to 1000 characters"
	}
	if hasLoneSurrogate(raw) {
		return "", http.StatusUnprocessableEntity, "bio must be text without NUL characters or lone surrogates"
	}
	if n := utf8.RuneCountInString(bio); n < 1 || n > bioMax {
		return "", http.StatusUnprocessableEntity, "bio must be a string of 1 to 1000 characters"
	}
	if strings.ContainsRune(bio, 0) {
		return "", http.StatusUnprocessableEntity, "bio must be text without NUL characters or lone surrogates"
	}
	return bio, 0, ""
}

// hasLoneSurrogate tells whether a JSON string escapes half of a UTF-16 surrogate pair
// (\ud800 alone): Go would decode it as U+FFFD where Python refuses it, so it is refused.
func hasLoneSurrogate(raw []byte) bool {
	escape := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		switch {
		case !ok:
			i++ // an escape such as \\ or \n: skip the escaped character
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := escape(i + 6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}

func router(store Store, users int32) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/users", func(c *gin.Context) {
		after, limit, problem := parsePage(c.Request.URL.RawQuery)
		if problem != "" {
			c.JSON(http.StatusBadRequest, detail{Detail: problem})
			return
		}
		users, err := store.Page(c.Request.Context(), after, limit)
		if err != nil {
			c.JSON(http.StatusInternalServerError, detail{Detail: "database error"})
			return
		}
		answer := page{Users: users}
		if len(users) == limit {
			answer.NextAfter = &users[len(users)-1].ID
		}
		c.JSON(http.StatusOK, answer)
	})
	r.GET("/users/by-username/:username", func(c *gin.Context) {
		username := c.Param("username")
		if len(username) == 0 || utf8.RuneCountInString(username) > usernameMax || !utf8.ValidString(username) ||
			strings.ContainsRune(username, 0) {
			c.JSON(http.StatusNotFound, notFoundBody)
			return
		}
		user, err := store.GetByUsername(c.Request.Context(), username)
		userOr404(c, user, err)
	})
	r.GET("/users/:id", func(c *gin.Context) {
		if id, ok := pathID(c); ok {
			user, err := store.GetUser(c.Request.Context(), id)
			userOr404(c, user, err)
		}
	})
	r.GET("/users/:id/posts", func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			return
		}
		found, err := store.UserPosts(c.Request.Context(), id)
		switch {
		case err != nil:
			c.JSON(http.StatusInternalServerError, detail{Detail: "database error"})
		case found == nil:
			c.JSON(http.StatusNotFound, notFoundBody)
		default:
			c.JSON(http.StatusOK, found)
		}
	})
	r.GET("/posts", func(c *gin.Context) {
		before, limit, problem := parseFeed(c.Request.URL.RawQuery)
		if problem != "" {
			c.JSON(http.StatusBadRequest, detail{Detail: problem})
			return
		}
		posts, err := store.Feed(c.Request.Context(), before, limit)
		if err != nil {
			c.JSON(http.StatusInternalServerError, detail{Detail: "database error"})
			return
		}
		answer := feed{Posts: posts}
		if len(posts) == limit {
			answer.NextBefore = &posts[len(posts)-1].ID
		}
		c.JSON(http.StatusOK, answer)
	})
	// One single-row lookup per id, one after the other, through the variant's own lookup.
	r.GET("/queries", func(c *gin.Context) {
		n := parseQueries(c.Request.URL.RawQuery)
		found := make([]User, 0, n)
		for i := 0; i < n; i++ {
			user, err := store.GetUser(c.Request.Context(), rand.Int32N(users)+1)
			if err != nil {
				c.JSON(http.StatusInternalServerError, detail{Detail: "database error"})
				return
			}
			if user != nil {
				found = append(found, *user)
			}
		}
		c.JSON(http.StatusOK, found)
	})
	r.PATCH("/users/:id", func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			return
		}
		bio, status, problem := parseBio(c)
		if problem != "" {
			c.JSON(status, detail{Detail: problem})
			return
		}
		user, err := store.SetBio(c.Request.Context(), id, bio)
		userOr404(c, user, err)
	})
	return r
}
