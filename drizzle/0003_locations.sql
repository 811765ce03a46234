CREATE TABLE `locations` (
	`id` varchar(36) NOT NULL,
	`tenant_id` varchar(36) NOT NULL,
	`name` varchar(255) NOT NULL,
	`external_id` varchar(64),
	`timezone` varchar(64) NOT NULL DEFAULT 'UTC',
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `locations_id` PRIMARY KEY(`id`),
	CONSTRAINT `locations_tenant_external_unique` UNIQUE(`tenant_id`,`external_id`)
);
--> statement-breakpoint
CREATE TABLE `user_locations` (
	`user_id` varchar(36) NOT NULL,
	`location_id` varchar(36) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `user_locations_user_id_location_id_pk` PRIMARY KEY(`user_id`,`location_id`)
);
--> statement-breakpoint
ALTER TABLE `sites` ADD `location_id` varchar(36);--> statement-breakpoint
ALTER TABLE `sites` ADD `timezone` varchar(64);--> statement-breakpoint
ALTER TABLE `tenants` ADD `external_id` varchar(64);--> statement-breakpoint
ALTER TABLE `tenants` ADD CONSTRAINT `tenants_external_id_unique` UNIQUE(`external_id`);--> statement-breakpoint
ALTER TABLE `locations` ADD CONSTRAINT `locations_tenant_id_tenants_id_fk` FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `user_locations` ADD CONSTRAINT `user_locations_user_id_users_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `user_locations` ADD CONSTRAINT `user_locations_location_id_locations_id_fk` FOREIGN KEY (`location_id`) REFERENCES `locations`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `locations_tenant_idx` ON `locations` (`tenant_id`);--> statement-breakpoint
CREATE INDEX `user_locations_location_idx` ON `user_locations` (`location_id`);--> statement-breakpoint
ALTER TABLE `sites` ADD CONSTRAINT `sites_location_id_locations_id_fk` FOREIGN KEY (`location_id`) REFERENCES `locations`(`id`) ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `sites_location_idx` ON `sites` (`location_id`);