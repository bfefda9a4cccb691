// Package redisconn opens Cartograph's Redis client from REDIS_URL. One
// string selects the deployment: a single server, a Sentinel-managed
// primary, or a Redis Cluster; every consumer depends on
// redis.UniversalClient, so the choice is invisible past this package.
//
// Forms (the query parameters are go-redis's own option names in snake
// case, e.g. dial_timeout=2s, pool_size=50):
//
//	redis://[user:pass@]host:6379/0            single server
//	rediss://[user:pass@]host:6380/0           single server over TLS
//	redis-sentinel://[suser:spass@]s1:26379,s2:26379,s3:26379/0?master_name=mymaster[&password=p]
//	                                           Sentinel: userinfo authenticates to the
//	                                           sentinels, password= / username= to the primary
//	rediss-sentinel://...                      the same over TLS
//	redis-cluster://[user:pass@]n1:6379,n2:6379,n3:6379   Redis Cluster (no db number)
//	rediss-cluster://...                       the same over TLS
//
// Keys that one command or script touches together share a hash tag
// ({shop} for carts and cost buckets, {inventory} for the live streams), so
// every command is single-slot and Cluster accepts it.
package redisconn

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Kind names the deployment a URL selects.
type Kind string

// Deployment kinds.
const (
	Single   Kind = "single"
	Sentinel Kind = "sentinel"
	Cluster  Kind = "cluster"
)

// Open parses rawURL (forms in the package doc) and returns a client for it.
// It does not connect; the first command does. Errors name the problem,
// never the password.
func Open(rawURL string) (redis.UniversalClient, Kind, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("REDIS_URL is not a URL")
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, "", scrub(err, u)
		}
		return traced(redis.NewClient(o)), Single, nil
	case "redis-sentinel", "rediss-sentinel":
		std, err := multiHost(u, strings.TrimSuffix(u.Scheme, "-sentinel"))
		if err != nil {
			return nil, "", err
		}
		o, err := redis.ParseFailoverURL(std)
		if err != nil {
			return nil, "", scrub(err, u)
		}
		if o.MasterName == "" {
			return nil, "", fmt.Errorf("REDIS_URL: a sentinel URL needs ?master_name=<name>")
		}
		return traced(redis.NewFailoverClient(o)), Sentinel, nil
	case "redis-cluster", "rediss-cluster":
		std, err := multiHost(u, strings.TrimSuffix(u.Scheme, "-cluster"))
		if err != nil {
			return nil, "", err
		}
		o, err := redis.ParseClusterURL(std)
		if err != nil {
			return nil, "", scrub(err, u)
		}
		return traced(redis.NewClusterClient(o)), Cluster, nil
	default:
		return nil, "", fmt.Errorf("REDIS_URL: unknown scheme %q (redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster)", u.Scheme)
	}
}

// multiHost rewrites a comma-separated host list into go-redis's form: the
// first host in the authority, the others as addr= parameters.
func multiHost(u *url.URL, scheme string) (string, error) {
	hosts := strings.Split(u.Host, ",")
	for _, h := range hosts {
		if h == "" {
			return "", fmt.Errorf("REDIS_URL: empty host in %q", u.Redacted())
		}
	}
	v := *u
	v.Scheme = scheme
	v.Host = hosts[0]
	q := v.Query()
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	v.RawQuery = q.Encode()
	return v.String(), nil
}

// scrub keeps go-redis's message but never echoes credentials.
func scrub(err error, u *url.URL) error {
	msg := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	if p := u.Query().Get("password"); p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return fmt.Errorf("REDIS_URL: %s", msg)
}

func traced(c redis.UniversalClient) redis.UniversalClient {
	c.AddHook(TraceHook{})
	return c
}
