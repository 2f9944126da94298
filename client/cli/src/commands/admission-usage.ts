/** `cairn serve admission --help` (kept apart so `cairn serve` shows it without loading the webhook). */
export const REGISTRY_USAGE_ADMISSION = `Registry:
  --allow-http-registry         plain http to a registry that is not on a loopback address
  --registry-ca-file F          PEM CA certificates for the registry's https
  --registry-timeout SECONDS    deadline of each registry operation (default 30)
  credentials: ~/.docker/config.json (auths, identitytoken)`;

export const ADMISSION_SERVE_USAGE = `  admission --tls-cert F --tls-key F --policy FILE|DIR [...] [options]

    The Kubernetes admission webhook (AdmissionReview v1) over HTTPS: POST /validate, POST /mutate
    (tag -> name@sha256 JSONPatch), GET /healthz, /readyz, /metrics. Every image of Pods and of the pod
    templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs is verified
    offline against the trusted root; the registry is the only peer.

      --tls-cert F --tls-key F      serving certificate and key (required; 'cairn admission certs')
      --policy FILE|DIR             ClusterImagePolicy / Kyverno ClusterPolicy YAML (repeatable; a
                                    directory's *.yaml, *.yml, *.json); reloaded when they change
      --port P                      default 8443              --host H   default 127.0.0.1
      --trusted-root F | --tuf-cache D | --tuf-mirror URL   trust (the cache 'cairn trust init' wrote)
      --timeout SECONDS             deadline of one decision (default 8; below timeoutSeconds)
      --cache-ttl SECONDS           verified results cached per (policy, digest) (default 600)
      --cache-size N                results kept, least recently used dropped (default 10000)
      --negative-cache-ttl SECONDS  refusals cached (default 30; registry errors never)
      --tag-cache-ttl SECONDS       tag -> digest resolutions cached (default 10)
      --no-match allow|warn|deny    images no policy matches (default warn)
      --namespace NS                check only these namespaces (repeatable; default all)
      --exclude-namespace NS        never check these (repeatable; default kube-system and
                                    $POD_NAMESPACE, the webhook's own)
      --reload-interval SECONDS     how often policy files are checked (default 2; 0 = never)
      --max-body-bytes N            AdmissionReview size limit (default 6291456)
      --config FILE                 config file; its 'admission' section holds the same settings
                                    (policy, timeout, cacheTtl, cacheSize, negativeCacheTtl,
                                    tagCacheTtl, noMatch, namespaces, excludeNamespaces,
                                    reloadInterval, maxBodyBytes, tufMirror, tufCache, trustedRoot)
      --log-level L                 debug|info|warn|error|silent (default info)
${REGISTRY_USAGE_ADMISSION.replace(/^/gm, '    ')}`;
