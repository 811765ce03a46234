CREATE TABLE `site_keys` (
	`site_key` varchar(64) NOT NULL,
	`site_id` varchar(36) NOT NULL,
	`issued_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`retired_at` datetime(3),
	CONSTRAINT `site_keys_site_key` PRIMARY KEY(`site_key`)
);
