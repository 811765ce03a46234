CREATE TABLE `config_quarantine` (
	`site_key` varchar(64) NOT NULL,
	`reason` varchar(2000) NOT NULL,
	`since` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `config_quarantine_site_key` PRIMARY KEY(`site_key`)
);
