ALTER TABLE `users` ADD `external_id` varchar(64);--> statement-breakpoint
ALTER TABLE `users` ADD `name` varchar(255);--> statement-breakpoint
ALTER TABLE `users` ADD CONSTRAINT `users_tenant_external_unique` UNIQUE(`tenant_id`,`external_id`);