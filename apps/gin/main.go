// Gin reference cell: the user lookup with pgx v5 and its pool, raw SQL.
//
// Configuration comes from the runner: DATABASE_URL in the environment (never on the
// command line, so no password shows in a process list), the driver settings a cell
// declares in DBBENCH_CELL_SETTINGS (JSON, as the Python cells get them), the rest as flags.
// GOMAXPROCS sets the CPU budget, as --workers does for the Python servers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// User is one row of the users table, in the contract's JSON shape.
type User struct {
	ID        int32     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Bio       string    `json:"bio"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
}

// Post is one of a user's posts as the contract shows it.
type Post struct {
	ID        int32     `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	Likes     int32     `json:"likes"`
}

// Author is the part of a user a feed shows beside each post.
type Author struct {
	ID       int32  `json:"id"`
	Username string `json:"username"`
	FullName string `json:"full_name"`
}

// FeedPost is a post with its author.
type FeedPost struct {
	Post
	Author Author `json:"author"`
}

// UserPosts is GET /users/{id}/posts: the user, their post count, their latest posts.
type UserPosts struct {
	User      User   `json:"user"`
	PostCount int64  `json:"post_count"`
	Posts     []Post `json:"posts"`
}

const latestPosts = 10

// The statements of the raw variant. pgx's default exec mode prepares and caches each per connection.
// A user's posts and the feed are one JOIN each, as in the Python raw variant.
const (
	columns      = `id, username, email, full_name, bio, is_active, created_at`
	lookupSQL    = `SELECT ` + columns + ` FROM users WHERE id = $1`
	usernameSQL  = `SELECT ` + columns + ` FROM users WHERE username = $1`
	pageSQL      = `SELECT ` + columns + ` FROM users WHERE id > $1 ORDER BY id LIMIT $2`
	editSQL      = `UPDATE users SET bio = $2 WHERE id = $1 RETURNING ` + columns
	userPostsSQL = `SELECT u.id, u.username, u.email, u.full_name, u.bio, u.is_active, u.created_at, c.post_count, ` +
		`p.id, p.title, p.created_at, p.likes FROM users AS u ` +
		`CROSS JOIN LATERAL (SELECT count(*) AS post_count FROM posts WHERE user_id = u.id) AS c ` +
		`LEFT JOIN LATERAL (SELECT id, title, created_at, likes FROM posts WHERE user_id = u.id ` +
		`ORDER BY created_at DESC, id DESC LIMIT 10) AS p ON true WHERE u.id = $1 ORDER BY p.created_at DESC, p.id DESC`
	feedSQL = `SELECT p.id, p.title, p.created_at, p.likes, u.id, u.username, u.full_name ` +
		`FROM posts AS p JOIN users AS u ON u.id = p.user_id WHERE p.id < $1 ORDER BY p.id DESC LIMIT $2`
)

// Store is the data-access side, kept apart from the HTTP glue as in the Python apps.
// A missing user is (nil, nil).
type Store interface {
	GetUser(ctx context.Context, id int32) (*User, error)
	GetByUsername(ctx context.Context, username string) (*User, error)
	Page(ctx context.Context, after int32, limit int) ([]User, error)
	SetBio(ctx context.Context, id int32, bio string) (*User, error)
	UserPosts(ctx context.Context, id int32) (*UserPosts, error)
	Feed(ctx context.Context, before int32, limit int) ([]FeedPost, error)
	Close()
}

type rawStore struct{ pool *pgxpool.Pool }

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.FullName, &u.Bio, &u.IsActive, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
}

func (s *rawStore) GetUser(ctx context.Context, id int32) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, lookupSQL, id))
}

func (s *rawStore) GetByUsername(ctx context.Context, username string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, usernameSQL, username))
}

func (s *rawStore) Page(ctx context.Context, after int32, limit int) ([]User, error) {
	rows, err := s.pool.Query(ctx, pageSQL, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := make([]User, 0, limit)
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, *u)
	}
	return users, rows.Err()
}

// SetBio is one UPDATE ... RETURNING, as in the Python raw variant.
func (s *rawStore) SetBio(ctx context.Context, id int32, bio string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, editSQL, id, bio))
}

func (s *rawStore) UserPosts(ctx context.Context, id int32) (*UserPosts, error) {
	rows, err := s.pool.Query(ctx, userPostsSQL, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found *UserPosts
	for rows.Next() {
		var u User
		var count int64
		var postID, likes *int32
		var title *string
		var created *time.Time
		if err := rows.Scan(&u.ID, &u.Username, &u.Email, &u.FullName, &u.Bio, &u.IsActive, &u.CreatedAt, &count,
			&postID, &title, &created, &likes); err != nil {
			return nil, err
		}
		if found == nil {
			u.CreatedAt = u.CreatedAt.UTC()
			found = &UserPosts{User: u, PostCount: count, Posts: make([]Post, 0, latestPosts)}
		}
		if postID != nil {
			found.Posts = append(found.Posts, Post{ID: *postID, Title: *title, CreatedAt: created.UTC(), Likes: *likes})
		}
	}
	return found, rows.Err()
}

func (s *rawStore) Feed(ctx context.Context, before int32, limit int) ([]FeedPost, error) {
	rows, err := s.pool.Query(ctx, feedSQL, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	posts := make([]FeedPost, 0, limit)
	for rows.Next() {
		var p FeedPost
		if err := rows.Scan(&p.ID, &p.Title, &p.CreatedAt, &p.Likes, &p.Author.ID, &p.Author.Username,
			&p.Author.FullName); err != nil {
			return nil, err
		}
		p.CreatedAt = p.CreatedAt.UTC()
		posts = append(posts, p)
	}
	return posts, rows.Err()
}

func (s *rawStore) Close() { s.pool.Close() }

// execModes are the pgx query modes a cell's settings may choose (apps/cells.toml): behind a
// transaction pooler, "exec" sends each query as an unnamed statement in one round trip, where
// pgx's default (cache_statement) prepares it by name on a connection the pooler does not keep.
var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// applySettings sets what DBBENCH_CELL_SETTINGS asks of the pool's connections.
func applySettings(cfg *pgxpool.Config) error {
	settings := map[string]any{}
	if text := os.Getenv("DBBENCH_CELL_SETTINGS"); text != "" {
		if err := json.Unmarshal([]byte(text), &settings); err != nil {
			return fmt.Errorf("DBBENCH_CELL_SETTINGS: %w", err)
		}
	}
	if name, ok := settings["query_exec_mode"].(string); ok {
		mode, known := execModes[name]
		if !known {
			return fmt.Errorf("DBBENCH_CELL_SETTINGS: unknown query_exec_mode %q", name)
		}
		cfg.ConnConfig.DefaultQueryExecMode = mode
	}
	return nil
}

// openPool opens a pool of exactly size connections, all of them before the first request.
func openPool(ctx context.Context, url string, size int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if err := applySettings(cfg); err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(size)
	cfg.MinConns = int32(size)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	conns := make([]*pgxpool.Conn, 0, size)
	for i := 0; i < size; i++ {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			pool.Close()
			return nil, err
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Release()
	}
	return pool, nil
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port to listen on")
	poolSize := flag.Int("pool-size", 16, "database connections, all opened at start-up")
	variant := flag.String("variant", "raw", "data-access variant")
	users := flag.Int("users", 10000, "the seed's user count: /queries draws its ids from 1..users")
	flag.Parse()

	url := os.Getenv("DATABASE_URL")
	if url == "" {
		log.Fatal("DATABASE_URL is not set")
	}
	gin.SetMode(gin.ReleaseMode)
	ctx := context.Background()

	var store Store
	switch *variant {
	case "raw":
		pool, err := openPool(ctx, url, *poolSize)
		if err != nil {
			log.Fatalf("cannot open the pool: %v", err)
		}
		store = &rawStore{pool: pool}
	default:
		var err error
		store, err = newVariantStore(ctx, *variant, url, *poolSize)
		if err != nil {
			log.Fatalf("cannot open the %s store: %v", *variant, err)
		}
	}
	defer store.Close()

	server := &http.Server{Addr: fmt.Sprintf("%s:%d", *host, *port), Handler: router(store, int32(*users))}
	go func() {
		if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("listen: %v", err)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	shutdown, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdown)
}
