// Command vcsim runs govmomi's vSphere simulator (package simulator, VPX model) for the
// operator's tests, bench and demo. It is our own small front end: only the flags the project
// uses, a listen address on 127.0.0.1, and one line on stdout once the server is up:
//
//	VCSIM_URL=https://user:pass@127.0.0.1:PORT/sdk PID=N
//
// It stops on SIGINT/SIGTERM or when stdin closes (so a parent that dies takes it along).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"

	// The Automation REST endpoints (/rest and /api) with the tagging service.
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	model := simulator.VPX()
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "standalone hosts per datacenter")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "local datastores")
	flag.IntVar(&model.Machine, "vm", 0, "virtual machines per resource pool")
	listen := flag.String("l", "127.0.0.1:0", "listen address")
	user := flag.String("username", "user", "the only user name accepted")
	pass := flag.String("password", "pass", "the only password accepted")
	cert := flag.String("tlscert", "", "PEM certificate (default: a generated localhost one)")
	key := flag.String("tlskey", "", "PEM key for -tlscert")
	trace := flag.Bool("trace", false, "log every SOAP exchange to stderr")
	flag.Parse()

	simulator.Trace = *trace
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	model.Service.TLS = new(tls.Config)
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			log.Fatal(err)
		}
		model.Service.TLS.Certificates = []tls.Certificate{pair}
	}
	server := model.Service.NewServer()
	defer server.Close()
	fmt.Printf("VCSIM_URL=%s PID=%d\n", server.URL, os.Getpid())

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		done <- syscall.SIGTERM
	}()
	<-done
}
