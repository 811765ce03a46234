ALTER TABLE `site_keys` ADD `grace_until` datetime(3);--> statement-breakpoint
CREATE INDEX `site_keys_site_idx` ON `site_keys` (`site_id`,`grace_until`);--> statement-breakpoint
CREATE INDEX `site_keys_grace_idx` ON `site_keys` (`grace_until`);--> statement-breakpoint
-- Site key rotation: a key retired by POST /v1/sites/:id/rotate-key keeps serving its site's current config at the
-- edge until `grace_until`. Setting, shortening or ending a grace period (the API, or a DBA's UPDATE) is a change of
-- that key's compiled config, recorded for the KV sync like any other.
CREATE TRIGGER `site_keys_au` AFTER UPDATE ON `site_keys` FOR EACH ROW
  INSERT INTO `config_changes` (`site_key`, `source`)
  SELECT NEW.`site_key`, 'site_keys' FROM DUAL WHERE NOT (OLD.`grace_until` <=> NEW.`grace_until`);
--> statement-breakpoint
-- A deleted site's keys all stop now, including those still in a grace period (whose change rows then remove them).
DROP TRIGGER IF EXISTS `sites_key_ad`;
--> statement-breakpoint
CREATE TRIGGER `sites_key_ad` AFTER DELETE ON `sites` FOR EACH ROW
  UPDATE `site_keys`
  SET `retired_at` = COALESCE(`retired_at`, CURRENT_TIMESTAMP(3)),
      `grace_until` = IF(`grace_until` > CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3), `grace_until`)
  WHERE `site_id` = OLD.`id`;
