CREATE TABLE `site_secrets` (
	`id` varchar(36) NOT NULL,
	`site_id` varchar(36) NOT NULL,
	`hash` varchar(64) NOT NULL,
	`prefix` varchar(16) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`revoked_at` datetime(3),
	CONSTRAINT `site_secrets_id` PRIMARY KEY(`id`),
	CONSTRAINT `site_secrets_hash_unique` UNIQUE(`hash`)
);
--> statement-breakpoint
ALTER TABLE `site_secrets` ADD CONSTRAINT `site_secrets_site_id_sites_id_fk` FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `site_secrets_site_idx` ON `site_secrets` (`site_id`);