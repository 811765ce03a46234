CREATE TABLE `crm_connections` (
	`id` varchar(36) NOT NULL,
	`tenant_id` varchar(36) NOT NULL,
	`location_id` varchar(36) NOT NULL,
	`provider` varchar(32) NOT NULL,
	`external_location_id` varchar(64) NOT NULL,
	`access_token_enc` text NOT NULL,
	`refresh_token_enc` text NOT NULL,
	`expires_at` datetime(3) NOT NULL,
	`version` int NOT NULL DEFAULT 1,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `crm_connections_id` PRIMARY KEY(`id`),
	CONSTRAINT `crm_connections_location_provider_unique` UNIQUE(`location_id`,`provider`)
);
--> statement-breakpoint
CREATE TABLE `destinations` (
	`id` varchar(36) NOT NULL,
	`tenant_id` varchar(36) NOT NULL,
	`location_id` varchar(36),
	`site_id` varchar(36),
	`kind` varchar(32) NOT NULL,
	`name` varchar(255) NOT NULL,
	`enabled` boolean NOT NULL DEFAULT true,
	`send_partial` boolean NOT NULL DEFAULT false,
	`config` json NOT NULL DEFAULT ('{}'),
	`secret_enc` text,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `destinations_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `crm_connections` ADD CONSTRAINT `crm_connections_tenant_id_tenants_id_fk` FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `crm_connections` ADD CONSTRAINT `crm_connections_location_id_locations_id_fk` FOREIGN KEY (`location_id`) REFERENCES `locations`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `destinations` ADD CONSTRAINT `destinations_tenant_id_tenants_id_fk` FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `destinations` ADD CONSTRAINT `destinations_location_id_locations_id_fk` FOREIGN KEY (`location_id`) REFERENCES `locations`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `destinations` ADD CONSTRAINT `destinations_site_id_sites_id_fk` FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `destinations_tenant_idx` ON `destinations` (`tenant_id`);--> statement-breakpoint
CREATE INDEX `destinations_location_idx` ON `destinations` (`location_id`);--> statement-breakpoint
CREATE INDEX `destinations_site_idx` ON `destinations` (`site_id`);