CREATE TABLE `audit_log` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`tenant_id` varchar(36) NOT NULL,
	`location_id` varchar(36),
	`actor_id` varchar(64),
	`actor_role` varchar(16),
	`action` varchar(64) NOT NULL,
	`target_type` varchar(32) NOT NULL,
	`target_id` varchar(128),
	`changes` json,
	`meta` json,
	`request_id` varchar(64),
	CONSTRAINT `audit_log_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `locations` ADD `suppress_erased` boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX `audit_tenant_id_idx` ON `audit_log` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_location_id_idx` ON `audit_log` (`location_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_action_idx` ON `audit_log` (`tenant_id`,`action`,`id`);--> statement-breakpoint
-- the audit trail is append-only: no UPDATE, no DELETE, whoever runs them
CREATE TRIGGER `audit_log_bu` BEFORE UPDATE ON `audit_log` FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
--> statement-breakpoint
CREATE TRIGGER `audit_log_bd` BEFORE DELETE ON `audit_log` FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
