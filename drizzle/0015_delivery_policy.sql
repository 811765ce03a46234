ALTER TABLE `destinations` ADD `delivery_policy` varchar(16) DEFAULT 'submitted' NOT NULL;--> statement-breakpoint
ALTER TABLE `destinations` ADD `min_quality` varchar(8) DEFAULT 'medium' NOT NULL;--> statement-breakpoint
-- destinations made before delivery policies keep their behaviour: every change, partial leads as send_partial says
UPDATE `destinations` SET `delivery_policy` = 'all';
