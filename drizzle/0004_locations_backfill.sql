-- Sites move into locations: every tenant gets a default location, and its sites move there. Location users join
-- their tenant's default location when they had any site; their allowed_sites list keeps narrowing what they see
-- (so nobody's access grows or shrinks with this migration). A user with an empty list saw nothing, and still sees
-- nothing.
INSERT INTO `locations` (`id`, `tenant_id`, `name`)
  SELECT UUID(), t.`id`, 'Default location' FROM `tenants` t
  WHERE NOT EXISTS (SELECT 1 FROM `locations` l WHERE l.`tenant_id` = t.`id`);
--> statement-breakpoint
UPDATE `sites` s SET s.`location_id` = (SELECT MIN(l.`id`) FROM `locations` l WHERE l.`tenant_id` = s.`tenant_id`)
  WHERE s.`location_id` IS NULL;
--> statement-breakpoint
INSERT INTO `user_locations` (`user_id`, `location_id`)
  SELECT u.`id`, (SELECT MIN(l.`id`) FROM `locations` l WHERE l.`tenant_id` = u.`tenant_id`) FROM `users` u
  WHERE u.`role` = 'location' AND JSON_LENGTH(u.`allowed_sites`) > 0;
--> statement-breakpoint
-- A location's timezone is part of its sites' compiled config (sites_au already covers a site moving location).
CREATE TRIGGER `locations_au` AFTER UPDATE ON `locations` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT `site_key`, 'locations' FROM `sites` WHERE `location_id` = NEW.`id` AND NOT (OLD.`timezone` <=> NEW.`timezone`);
