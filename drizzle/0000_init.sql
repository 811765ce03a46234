CREATE TABLE `config_changes` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`site_key` varchar(64) NOT NULL,
	`source` varchar(32) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`processed_at` datetime(3),
	CONSTRAINT `config_changes_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `field_mappings` (
	`id` varchar(36) NOT NULL,
	`field_id` varchar(36) NOT NULL,
	`target_entity` varchar(100) NOT NULL,
	`target_field` varchar(100) NOT NULL,
	`transform` varchar(100),
	`required` boolean NOT NULL DEFAULT false,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `field_mappings_id` PRIMARY KEY(`id`),
	CONSTRAINT `field_mappings_field_unique` UNIQUE(`field_id`)
);
--> statement-breakpoint
CREATE TABLE `fields` (
	`id` varchar(36) NOT NULL,
	`form_id` varchar(36) NOT NULL,
	`selector` varchar(500) NOT NULL,
	`name` varchar(255) NOT NULL,
	`type` varchar(50) NOT NULL,
	`label` varchar(255),
	`required` boolean NOT NULL DEFAULT false,
	`validation_rules` json NOT NULL DEFAULT ('{}'),
	`display_order` int NOT NULL DEFAULT 0,
	`sensitive` boolean NOT NULL DEFAULT false,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `fields_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `forms` (
	`id` varchar(36) NOT NULL,
	`site_id` varchar(36) NOT NULL,
	`name` varchar(255) NOT NULL,
	`page_url_pattern` varchar(1024) NOT NULL DEFAULT '',
	`selector` varchar(500) NOT NULL,
	`alternative_selectors` json NOT NULL DEFAULT ('[]'),
	`active` boolean NOT NULL DEFAULT true,
	`metadata` json NOT NULL DEFAULT ('{}'),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `forms_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `kv_sync_state` (
	`site_key` varchar(64) NOT NULL,
	`version` bigint unsigned NOT NULL,
	`hash` varchar(64) NOT NULL,
	`present` boolean NOT NULL,
	`synced_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `kv_sync_state_site_key` PRIMARY KEY(`site_key`)
);
--> statement-breakpoint
CREATE TABLE `sites` (
	`id` varchar(36) NOT NULL,
	`tenant_id` varchar(36) NOT NULL,
	`name` varchar(255) NOT NULL,
	`domain` varchar(255) NOT NULL,
	`site_key` varchar(64) NOT NULL,
	`active` boolean NOT NULL DEFAULT true,
	`allowed_origins` json NOT NULL DEFAULT ('[]'),
	`settings` json NOT NULL DEFAULT ('{}'),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `sites_id` PRIMARY KEY(`id`),
	CONSTRAINT `sites_site_key_unique` UNIQUE(`site_key`)
);
--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` varchar(36) NOT NULL,
	`name` varchar(255) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `tenants_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` varchar(36) NOT NULL,
	`tenant_id` varchar(36) NOT NULL,
	`email` varchar(320) NOT NULL,
	`role` enum('agency','location') NOT NULL,
	`allowed_sites` json NOT NULL DEFAULT ('[]'),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `users_id` PRIMARY KEY(`id`),
	CONSTRAINT `users_email_unique` UNIQUE(`email`)
);
--> statement-breakpoint
ALTER TABLE `field_mappings` ADD CONSTRAINT `field_mappings_field_id_fields_id_fk` FOREIGN KEY (`field_id`) REFERENCES `fields`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `fields` ADD CONSTRAINT `fields_form_id_forms_id_fk` FOREIGN KEY (`form_id`) REFERENCES `forms`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `forms` ADD CONSTRAINT `forms_site_id_sites_id_fk` FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `sites` ADD CONSTRAINT `sites_tenant_id_tenants_id_fk` FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `users` ADD CONSTRAINT `users_tenant_id_tenants_id_fk` FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `config_changes_pending_idx` ON `config_changes` (`processed_at`,`id`);--> statement-breakpoint
CREATE INDEX `config_changes_site_key_idx` ON `config_changes` (`site_key`);--> statement-breakpoint
CREATE INDEX `fields_form_idx` ON `fields` (`form_id`);--> statement-breakpoint
CREATE INDEX `forms_site_idx` ON `forms` (`site_id`);--> statement-breakpoint
CREATE INDEX `sites_tenant_idx` ON `sites` (`tenant_id`);--> statement-breakpoint
CREATE INDEX `users_tenant_idx` ON `users` (`tenant_id`);