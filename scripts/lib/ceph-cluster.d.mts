/** Types of the throw-away Ceph cluster recipe (see the .mjs beside it). */

export const CEPH_TOOLS: readonly string[];

/** The Ceph binaries that are missing here (Debian: radosgw ceph-mon ceph-osd ceph-common). */
export function missingCephTools(): string[];

export interface CephClusterOptions {
  /** Keys of the S3 user the cluster gets (loopback only, thrown away with the cluster). */
  accessKeyId: string;
  secretAccessKey: string;
  /** radosgw user id (default `berth`). */
  user?: string;
  /** Size of the OSD's sparse block file (default 10 GiB). */
  osdBytes?: number;
  /** Keep radosgw's per-bucket usage log, flushed every second (the benchmark's request counts). */
  usageLog?: boolean;
  /** Leave the directory in place when stopped. */
  keep?: boolean;
  /** Name prefix of the temporary directory (default `berth-ceph-`). */
  dirPrefix?: string;
  /** Whole starts to try (default 3). */
  attempts?: number;
  /** Where retries are reported. */
  log?: (message: string) => void;
}

export interface CephCluster {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** The cluster's ceph.conf: more gateways onto the same data can be started with it (startGateway). */
  conf: string;
  /** The daemons' processes, so their CPU can be charged to whoever made them work. */
  pids: { mon: number; osd0: number; rgw: number };
  /** Ends every daemon (SIGTERM) and removes the directory unless `keep`. */
  stop(): Promise<void>;
  /** Kills every daemon at once, for exit paths that cannot wait. */
  killNow(): void;
}

export function startCephCluster(options: CephClusterOptions): Promise<CephCluster>;

/** One more radosgw process on a cluster, serving the same buckets on a port of its own. */
export interface Gateway {
  /** http://127.0.0.1:PORT, the same across restarts. */
  endpoint: string;
  /** Ends the process at once (SIGKILL): the store stops answering mid-request, as in a crash. */
  kill(): Promise<void>;
  /** Starts the process again on the same port and waits until it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a radosgw of its own on the cluster `conf` describes (the run's shared cluster). */
export function startGateway(conf: string): Promise<Gateway>;
