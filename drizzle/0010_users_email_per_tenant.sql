-- Emails are unique within a tenant, not across tenants (a 409 for another tenant's user told strangers who uses
-- the product). The composite index is added before the old ones go: tenant_id's foreign key needs an index.
ALTER TABLE `users` ADD CONSTRAINT `users_tenant_email_unique` UNIQUE(`tenant_id`,`email`);--> statement-breakpoint
CREATE INDEX `users_email_idx` ON `users` (`email`);--> statement-breakpoint
ALTER TABLE `users` DROP INDEX `users_email_unique`;--> statement-breakpoint
DROP INDEX `users_tenant_idx` ON `users`;
