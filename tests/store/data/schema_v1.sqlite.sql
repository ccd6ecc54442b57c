-- The schema matloop's store created at schema version 1 (before Alembic), as
-- `sqlite3 file.db .schema` shows it for a database made by that code.
CREATE TABLE meta (
	"key" VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE campaign (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	config TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	stop_reason VARCHAR, 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_campaign_name ON campaign (name);
CREATE TABLE candidate (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	pool_index INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	label VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (campaign_id, "key"), 
	FOREIGN KEY(campaign_id) REFERENCES campaign (id)
);
CREATE INDEX ix_candidate_campaign_id ON candidate (campaign_id);
CREATE TABLE cycle (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	strategy VARCHAR NOT NULL, 
	n_train INTEGER NOT NULL, 
	n_proposed INTEGER NOT NULL, 
	fit_s FLOAT NOT NULL, 
	select_s FLOAT NOT NULL, 
	hyperparameters TEXT, 
	best TEXT, 
	predicted TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (campaign_id, number), 
	FOREIGN KEY(campaign_id) REFERENCES campaign (id)
);
CREATE INDEX ix_cycle_campaign_id ON cycle (campaign_id);
CREATE TABLE run_lock (
	campaign_id INTEGER NOT NULL, 
	host VARCHAR NOT NULL, 
	pid INTEGER NOT NULL, 
	acquired_at DATETIME NOT NULL, 
	PRIMARY KEY (campaign_id), 
	FOREIGN KEY(campaign_id) REFERENCES campaign (id)
);
CREATE TABLE evaluation (
	id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	candidate_id INTEGER NOT NULL, 
	cycle INTEGER NOT NULL, 
	attempt INTEGER NOT NULL, 
	status VARCHAR NOT NULL, 
	reason VARCHAR, 
	error TEXT, 
	proposed_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	duration_s FLOAT, 
	provenance TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(campaign_id) REFERENCES campaign (id), 
	FOREIGN KEY(candidate_id) REFERENCES candidate (id)
);
CREATE INDEX ix_evaluation_campaign_id ON evaluation (campaign_id);
CREATE INDEX ix_evaluation_candidate_id ON evaluation (candidate_id);
CREATE INDEX ix_evaluation_status ON evaluation (status);
CREATE TABLE external_candidate (
	candidate_id INTEGER NOT NULL, 
	campaign_id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	"values" TEXT NOT NULL, 
	PRIMARY KEY (candidate_id), 
	FOREIGN KEY(candidate_id) REFERENCES candidate (id), 
	FOREIGN KEY(campaign_id) REFERENCES campaign (id)
);
CREATE INDEX ix_external_candidate_campaign_id ON external_candidate (campaign_id);
CREATE TABLE measurement (
	id INTEGER NOT NULL, 
	evaluation_id INTEGER NOT NULL, 
	property VARCHAR NOT NULL, 
	value FLOAT NOT NULL, 
	unit VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(evaluation_id) REFERENCES evaluation (id)
);
CREATE INDEX ix_measurement_evaluation_id ON measurement (evaluation_id);
