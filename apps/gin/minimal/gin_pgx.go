// Gin's quick start and its middleware page (gin.New with Recovery, release mode, c.JSON) with
// pgx v5's pool as its README writes it (pgxpool, QueryRow, Scan). The by-id endpoint only: the
// minimal app the gin/raw cell is measured against (dbbench parity). The timestamp in UTC, as
// the contract writes it; DATABASE_URL from the environment, the address and pool size as flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type User struct {
	ID        int32     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Bio       string    `json:"bio"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port to listen on")
	poolSize := flag.Int("pool-size", 16, "the pool's most connections")
	flag.Parse()

	config, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatalf("DATABASE_URL: %v", err)
	}
	config.MaxConns = int32(*poolSize)
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		log.Fatalf("cannot open the pool: %v", err)
	}
	defer pool.Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/users/:id", func(c *gin.Context) {
		id, err := strconv.Atoi(c.Param("id"))
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"detail": "invalid id"})
			return
		}
		var u User
		err = pool.QueryRow(c.Request.Context(),
			"SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = $1", id).
			Scan(&u.ID, &u.Username, &u.Email, &u.FullName, &u.Bio, &u.IsActive, &u.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			c.JSON(http.StatusNotFound, gin.H{"detail": "user not found"})
			return
		}
		if err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"detail": err.Error()})
			return
		}
		u.CreatedAt = u.CreatedAt.UTC()
		c.JSON(http.StatusOK, u)
	})
	if err := r.Run(fmt.Sprintf("%s:%d", *host, *port)); err != nil {
		log.Fatalf("listen: %v", err)
	}
}
