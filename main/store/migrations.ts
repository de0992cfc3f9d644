// Versioned schema: migration i brings the database from user_version i to i + 1.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','cancelled','interrupted')),
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    notes TEXT NOT NULL DEFAULT '',
    tags_json TEXT NOT NULL DEFAULT '[]',
    backend TEXT,
    versions_json TEXT,
    wall_seconds REAL,
    error TEXT,
    owner_pid INTEGER,
    owner_host TEXT
  );
  CREATE INDEX experiments_by_hash ON experiments(spec_hash);
  CREATE TABLE cells (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    trait TEXT NOT NULL,
    filter TEXT NOT NULL,
    architecture TEXT NOT NULL,
    cell_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','cancelled','interrupted')),
    backend TEXT,
    versions_json TEXT,
    timings_json TEXT,
    error TEXT,
    started_at TEXT,
    finished_at TEXT,
    UNIQUE (experiment_id, idx)
  );
  CREATE TABLE results (
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    condition TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    accuracy REAL NOT NULL,
    PRIMARY KEY (cell_id, condition, replicate)
  ) WITHOUT ROWID;
  CREATE TABLE metrics (
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    condition TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL
  );
  CREATE INDEX metrics_by_series ON metrics(cell_id, condition, name, step);
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data BLOB NOT NULL
  );
  `,
  // v2: the trait's rate (preference / trigger success) beside each result; null for skill.
  `ALTER TABLE results ADD COLUMN trait_score REAL;`,
  // Units of work and liveness: an experiment's plan of units (a group of cells sharing a teacher x a
  // shard of its replicates), each finished or not, so a run can be resumed (or sent to a cluster)
  // unit by unit; the runner's heartbeat (ms since the epoch) tells a live run from a dead one
  // whatever host or PID owns it.
  `
  ALTER TABLE experiments ADD COLUMN heartbeat_at INTEGER;
  CREATE TABLE units (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    grp INTEGER NOT NULL,
    cells_json TEXT NOT NULL,
    replicates_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','done','failed','cancelled','interrupted')),
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    PRIMARY KEY (experiment_id, idx)
  ) WITHOUT ROWID;
  `,
  // A model whose loss or parameters became non-finite is a result without numbers: accuracy is
  // nullable now (SQLite cannot drop NOT NULL in place: create, copy, drop, rename), and the row
  // says where it diverged. A row has an accuracy exactly when it did not diverge.
  `
  CREATE TABLE results_diverged (
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    condition TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    accuracy REAL,
    trait_score REAL,
    diverged_phase TEXT CHECK (diverged_phase IN ('teacher', 'students')),
    diverged_step INTEGER,
    diverged_reason TEXT,
    PRIMARY KEY (cell_id, condition, replicate),
    CHECK ((diverged_phase IS NULL) = (diverged_step IS NULL) AND (diverged_step IS NULL) = (diverged_reason IS NULL)),
    CHECK ((accuracy IS NULL) = (diverged_step IS NOT NULL))
  ) WITHOUT ROWID;
  INSERT INTO results_diverged (cell_id, condition, replicate, seed, accuracy, trait_score)
    SELECT cell_id, condition, replicate, seed, accuracy, trait_score FROM results;
  DROP TABLE results;
  ALTER TABLE results_diverged RENAME TO results;
  `,
  // The machine and software each attempt (start, resumes) ran on, as a JSON array recorded when the
  // attempt began; NULL for experiments from before, which reports show as "not recorded".
  `ALTER TABLE experiments ADD COLUMN environment_json TEXT;`,
  // Cluster submissions: an experiment handed to a scheduler (SLURM) as one array task per unit. The
  // token names the submission in the shared directory and in every unit file its tasks write, so a
  // unit file is merged only into the experiment it was computed for. A unit file is itself a run
  // store holding one unit of the plan, with this row copied in. Each (re)submission is a job.
  `
  CREATE TABLE clusters (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
    scheduler TEXT NOT NULL CHECK (scheduler IN ('slurm')),
    dir TEXT NOT NULL,
    token TEXT NOT NULL,
    options_json TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE cluster_jobs (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    units_json TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (experiment_id, job_id)
  );
  `,
  // Unit files authenticated: in the submitter's store unit_key is the submission's HMAC-SHA256 key
  // (hex), kept here and handed to its tasks by sbatch's environment, never written to the shared
  // directory that others may read; in a unit file unit_mac is the seal its task computed with that
  // key over the unit's content. Both NULL for submissions made before.
  `
  ALTER TABLE clusters ADD COLUMN unit_key TEXT;
  ALTER TABLE clusters ADD COLUMN unit_mac TEXT;
  `,
  // Ownership fencing: each attempt at a run (a start or a resume) takes a random token, stored with
  // the start of its process (so a reused PID is not taken for the owner), and every write the
  // attempt makes checks it. Metric rows get their key: a step of a series is stored once. Rows stored
  // twice before (two processes running one experiment) are kept once, the last; the key's prefix
  // serves the series reads the old index served.
  `
  ALTER TABLE experiments ADD COLUMN owner_token TEXT;
  ALTER TABLE experiments ADD COLUMN owner_started TEXT;
  DELETE FROM metrics WHERE EXISTS (
    SELECT 1 FROM metrics later WHERE later.cell_id = metrics.cell_id AND later.condition = metrics.condition
      AND later.name = metrics.name AND later.step = metrics.step AND later.replicate = metrics.replicate
      AND later.rowid > metrics.rowid
  );
  CREATE UNIQUE INDEX metrics_key ON metrics(cell_id, condition, name, step, replicate);
  DROP INDEX metrics_by_series;
  `,
  // The llm family (issue 28): every request sent to a provider and every answer, keyed by the lab's
  // own identity for the request (so a resume sends only what has no answer stored); each choice's
  // filter verdict; uploads by their SHA-256; fine-tuning jobs by the lab's run tag, their provider id
  // stored the moment it is known. No key or credential is ever written here.
  `
  CREATE TABLE llm_requests (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('generate','evaluate')),
    request_key TEXT NOT NULL,
    model TEXT NOT NULL,
    request_json TEXT NOT NULL,
    usage_json TEXT,
    answered_at TEXT NOT NULL,
    UNIQUE (experiment_id, request_key)
  );
  CREATE TABLE llm_answers (
    request_id INTEGER NOT NULL REFERENCES llm_requests(id) ON DELETE CASCADE,
    choice INTEGER NOT NULL,
    text TEXT NOT NULL,
    kept INTEGER CHECK (kept IN (0, 1)),
    reason TEXT,
    target_probability REAL,
    PRIMARY KEY (request_id, choice)
  ) WITHOUT ROWID;
  CREATE TABLE llm_uploads (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    provider TEXT NOT NULL,
    file_id TEXT NOT NULL,
    rows INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (experiment_id, sha256)
  );
  CREATE TABLE llm_jobs (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    run_tag TEXT NOT NULL,
    provider TEXT NOT NULL,
    job_id TEXT NOT NULL,
    base_model TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT,
    error TEXT,
    events_json TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (experiment_id, run_tag)
  );
  `,
  // An llm experiment's run id: random, made once when it starts, so the tags its jobs carry at the
  // provider are unique across stores and machines (experiment ids are only unique within a store).
  `
  CREATE TABLE llm_runs (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
    run_id TEXT NOT NULL
  );
  `,
];
